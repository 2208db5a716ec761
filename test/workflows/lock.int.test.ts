import { Context } from '@temporalio/activity';
import {
  Client,
  Connection,
  WorkflowFailedError,
  type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { acquireLock, lockHistoryPath, readLock } from '../../src/activities/lock';
import type { PreflightInput } from '../../src/activities/preflight';
import { createLockActivities } from '../../src/activities/unlock';
import { UsageError } from '../../src/cli/errors';
import { unlockDeployment, unlockRequest } from '../../src/cli/unlock';
import { UPGRADE_WORKFLOW_TYPE, UpgradeFailureType, type UpgradeRequest } from '../../src/upgrade';
import { UNLOCK_WORKFLOW_TYPE, UnlockFailureType, type UnlockReport } from '../../src/upgrade-lock';
import { upgradeFailure } from '../helpers/platform';
import { startDevServer, type DevServer } from '../helpers/temporal-server';

const SETUP_TIMEOUT_MS = 2 * 60_000;
const TEST_TIMEOUT_MS = 60_000;
const REQUEST: UpgradeRequest = { targetVersion: '1.3.0', pods: ['core'] };

/** What the stand-in platform does at the steps a test controls. */
interface Platform {
  /** Pre-flight waits for this before it takes the lock. */
  preflightGate?: Promise<void>;
  preflightReached?: () => void;
  /** The run whose pre-flight took the lock last. */
  tookLock?: string;
  /** The pull never ends (until the activity is cancelled): the upgrade holds the lock meanwhile. */
  pullHangs: boolean;
  /** Validation fails and so does putting the images back: the upgrade ends RollbackFailed. */
  rollbackFails: boolean;
}

/**
 * The deployment's lock on the real Temporal dev server, with the real upgrade and unlock workflows and the real lock
 * activities on a temporary deploy checkout; the rest of the platform is stood in for, so each run stops where a test
 * says. The sandbox test runs the same scenarios on the real platform.
 */
describe('the upgrade lock, on a real Temporal server', () => {
  let server: DevServer;
  let connection: Connection;
  let client: Client;
  let workerConnection: NativeConnection;
  let worker: Worker;
  let running: Promise<void>;
  let root: string;
  const taskQueue = `lock-${randomUUID().slice(0, 8)}`;
  const platform: Platform = { pullHangs: false, rollbackFails: false };

  const standIns = () => ({
    async checkPreflight({ request, lockOwner, readOnly }: PreflightInput) {
      platform.preflightReached?.();
      await platform.preflightGate;
      if (!readOnly) {
        await acquireLock(root, { ...lockOwner, fromVersion: '1.2.0', toVersion: request.targetVersion });
        platform.tookLock = lockOwner.runId;
      }
      const pods = request.pods ?? ['core'];
      return {
        profile: 'development',
        fromVersion: '1.2.0',
        toVersion: request.targetVersion,
        pods,
        images: [],
        checks: ['stand-in'],
        databaseBytes: 0,
      };
    },
    pinRunningImages: async () => [],
    async pullImages({ tag }: { tag: string }) {
      while (platform.pullHangs) {
        Context.current().heartbeat();
        await Context.current().sleep(200);
      }
      return [{ image: `aegis-runtime:${tag}`, digest: 'sha256:0000000000000000000000' }];
    },
    backUpDatabases: async () => ({ location: path.join(root, 'backups', 'b'), files: [] }),
    snapshotMigrations: async () => [],
    setImageTag: async () => '1.2.0',
    redeployPod: async () => ({ startedAt: new Date().toISOString(), skipped: false }),
    awaitPodReady: async () => undefined,
    awaitMigrations: async () => [],
    redeployPlatform: async () => undefined,
    async validatePlatform() {
      if (platform.rollbackFails) throw ApplicationFailure.nonRetryable('stand-in: core is down', 'ValidationFailed');
    },
    async restorePinnedImages({ previousTag }: { previousTag: string }) {
      if (platform.rollbackFails) throw ApplicationFailure.nonRetryable('stand-in: the registry is gone');
      return previousTag;
    },
    restoreDatabase: async () => ({ restored: false, reason: 'stand-in' }),
    ...createLockActivities(root),
  });

  beforeAll(async () => {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-upgrade-lock-'));
    server = await startDevServer();
    connection = await Connection.connect({ address: server.address });
    client = new Client({ connection });
    workerConnection = await NativeConnection.connect({ address: server.address });
    worker = await Worker.create({
      connection: workerConnection,
      taskQueue,
      workflowsPath: require.resolve('../../src/workflows'),
      activities: standIns(),
    });
    running = worker.run();
  }, SETUP_TIMEOUT_MS);

  afterEach(async () => {
    Object.assign(platform, {
      pullHangs: false,
      rollbackFails: false,
      preflightGate: undefined,
      preflightReached: undefined,
      tookLock: undefined,
    });
    for await (const run of client.workflow.list({
      query: `TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Running'`,
    })) {
      await client.workflow.getHandle(run.workflowId, run.runId).terminate('test cleanup');
    }
    await fs.rm(path.join(root, '.aegis-upgrade.lock'), { force: true });
  });

  afterAll(async () => {
    worker?.shutdown();
    await running;
    await workerConnection?.close();
    await connection?.close();
    await server?.stop();
    if (root) await fs.rm(root, { recursive: true, force: true });
  });

  const start = (workflowId: string) =>
    client.workflow.start(UPGRADE_WORKFLOW_TYPE, { taskQueue, workflowId, args: [REQUEST] });

  /** Waits until `handle`'s run holds the lock: it is past pre-flight, pulling. */
  const holdsLock = async (handle: WorkflowHandleWithFirstExecutionRunId) => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const found = await readLock(root);
      if (found.state === 'held' && found.lock.runId === handle.firstExecutionRunId) return found.lock;
      if (Date.now() > deadline) throw new Error(`${handle.workflowId} never took the lock: ${JSON.stringify(found)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  const unlock = (env: string, reason?: string): Promise<UnlockReport> =>
    unlockDeployment(client, taskQueue, env, unlockRequest(reason, 'tester@ci'));

  test(
    'two upgrades under different workflow IDs: one runs, the other is refused naming it',
    async () => {
      platform.pullHangs = true;
      const first = await start('aegis-upgrade-two');
      await holdsLock(first);

      const second = await start('aegis-upgrade-two-again');
      const refusal = await upgradeFailure(second.result());

      expect(refusal.type).toBe(UpgradeFailureType.PreflightFailed);
      expect(refusal.message).toContain(
        `locked by upgrade \`aegis-upgrade-two\` (run ${first.firstExecutionRunId}, 1.2.0 → 1.3.0) since `,
      );
      expect(refusal.message).toContain('`aegis-upgrade unlock --env two`');
      // The refused run did not touch the lock it does not hold.
      expect((await holdsLock(first)).workflowId).toBe('aegis-upgrade-two');

      await first.cancel();
      expect((await upgradeFailure(first.result())).type).toBe(UpgradeFailureType.UpgradeRolledBack);
      await expect(readLock(root)).resolves.toMatchObject({ state: 'free' });
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'a terminated upgrade: the next one under the same workflow ID is refused naming it; unlock; the next one runs',
    async () => {
      platform.pullHangs = true;
      const terminated = await start('aegis-upgrade-staging');
      const held = await holdsLock(terminated);
      await terminated.terminate('operator gave up');
      platform.pullHangs = false;

      const next = await start('aegis-upgrade-staging');
      const refusal = await upgradeFailure(next.result());
      expect(refusal.type).toBe(UpgradeFailureType.PreflightFailed);
      expect(refusal.message).toContain(`(run ${terminated.firstExecutionRunId}, 1.2.0 → 1.3.0)`);
      expect(refusal.message).toContain('`aegis-upgrade unlock --env staging`');
      await expect(readLock(root)).resolves.toMatchObject({ state: 'held', lock: held });

      const report = await unlock('staging', 'terminated by hand, platform checked');
      expect(report.cleared).toMatchObject({
        previous: held,
        ownerStatus: 'TERMINATED',
        clearedBy: 'tester@ci',
        reason: 'terminated by hand, platform checked',
        unlockWorkflowId: expect.stringMatching(/^aegis-unlock-staging-/),
      });
      const history = (await fs.readFile(lockHistoryPath(root), 'utf8')).trim().split('\n');
      expect(JSON.parse(history.at(-1) ?? '')).toEqual(report.cleared);

      const after = await start('aegis-upgrade-staging');
      await expect(after.result()).resolves.toMatchObject({ phase: 'completed' });
      await expect(readLock(root)).resolves.toMatchObject({ state: 'free' });
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'an upgrade that ended RollbackFailed keeps its lock: the next one is refused naming it',
    async () => {
      platform.rollbackFails = true;
      const failed = await start('aegis-upgrade-broken');
      expect((await upgradeFailure(failed.result())).type).toBe(UpgradeFailureType.RollbackFailed);
      platform.rollbackFails = false;

      const next = await start('aegis-upgrade-broken');
      const refusal = await upgradeFailure(next.result());

      expect(refusal.type).toBe(UpgradeFailureType.PreflightFailed);
      expect(refusal.message).toContain(`(run ${failed.firstExecutionRunId}, 1.2.0 → 1.3.0)`);
      expect((await unlock('broken')).cleared).toMatchObject({ ownerStatus: 'FAILED' });
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'unlock is refused while the upgrade holding the lock runs, and leaves the lock',
    async () => {
      platform.pullHangs = true;
      const upgrade = await start('aegis-upgrade-busy');
      const held = await holdsLock(upgrade);

      const refusal: unknown = await unlock('busy').catch((error: unknown) => error);

      expect(refusal).toBeInstanceOf(UsageError);
      expect((refusal as Error).message).toContain(`run ${upgrade.firstExecutionRunId}`);
      expect((refusal as Error).message).toContain('still runs');
      expect((refusal as Error).message).toContain('`aegis-upgrade abort --env busy`');
      await expect(readLock(root)).resolves.toMatchObject({ state: 'held', lock: held });
      await expect(fs.readFile(lockHistoryPath(root), 'utf8')).resolves.not.toContain(upgrade.firstExecutionRunId);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'a lock that names no upgrade: refused while any upgrade runs on the task queue, then cleared with its content',
    async () => {
      platform.pullHangs = true;
      const upgrade = await start('aegis-upgrade-garbled');
      await holdsLock(upgrade);
      await fs.writeFile(path.join(root, '.aegis-upgrade.lock'), '');

      const refusal: unknown = await unlock('garbled').catch((error: unknown) => error);
      expect(refusal).toBeInstanceOf(UsageError);
      expect((refusal as Error).message).toContain(
        `an upgrade \`aegis-upgrade-garbled\` (run ${upgrade.firstExecutionRunId}`,
      );

      await upgrade.terminate('test');
      const report = await unlock('garbled', 'empty lock');
      expect(report.cleared).toMatchObject({ previous: { unreadable: 'it is empty' }, reason: 'empty lock' });
      await expect(readLock(root)).resolves.toMatchObject({ state: 'free' });
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'a cancel during pre-flight leaves no lock, even when pre-flight takes it after the cancel',
    async () => {
      let open: () => void = () => undefined;
      platform.preflightGate = new Promise((resolve) => (open = resolve));
      const reached = new Promise<void>((resolve) => (platform.preflightReached = resolve));
      const upgrade = await start('aegis-upgrade-cancelled');
      await reached;

      await upgrade.cancel();
      open();
      const failure = await upgradeFailure(upgrade.result());

      expect(failure.type).toBe(UpgradeFailureType.PreflightFailed);
      expect(failure.message).toContain('cancelled during pre-flight; nothing was changed');
      expect(platform.tookLock).toBe(upgrade.firstExecutionRunId);
      await expect(readLock(root)).resolves.toMatchObject({ state: 'free' });
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'unlock is startable with the temporal CLI input, says when there is nothing to clear, and refuses a bad request',
    async () => {
      const free = await client.workflow.execute(UNLOCK_WORKFLOW_TYPE, {
        taskQueue,
        workflowId: `aegis-unlock-default-${randomUUID()}`,
        args: [{ clearedBy: 'alice@ops-laptop', reason: 'nothing there' }],
      });
      expect(free).toEqual({ path: path.join(root, '.aegis-upgrade.lock') });

      const bad = client.workflow.execute(UNLOCK_WORKFLOW_TYPE, {
        taskQueue,
        workflowId: `aegis-unlock-default-${randomUUID()}`,
        args: [{ reason: 'who?' }],
      });
      const error: unknown = await bad.catch((thrown: unknown) => thrown);
      expect(error).toBeInstanceOf(WorkflowFailedError);
      expect((error as WorkflowFailedError).cause).toMatchObject({
        type: UnlockFailureType.UnlockRefused,
        message: expect.stringContaining('Expected `clearedBy`'),
      });
    },
    TEST_TIMEOUT_MS,
  );
});

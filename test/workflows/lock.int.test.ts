import { WorkflowFailedError, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { lockHistoryPath, readLock } from '../../src/host/lock-file';
import { UsageError } from '../../src/cli/errors';
import { unlockDeployment, unlockRequest } from '../../src/cli/unlock';
import { UpgradeFailureType, type UpgradeRequest } from '../../src/core/upgrade';
import { UNLOCK_WORKFLOW_TYPE, UnlockFailureType, type UnlockReport } from '../../src/core/upgrade-lock';
import { terminateIfRunning, upgradeFailure } from '../helpers/platform';
import { startStandInServer, until, type StandInScenario, type StandInServer } from '../helpers/stand-in-activities';

const SETUP_TIMEOUT_MS = 2 * 60_000;
const TEST_TIMEOUT_MS = 60_000;
const REQUEST: UpgradeRequest = { targetVersion: '1.3.0', pods: ['core'] };

/** The pull never ends (until the activity is cancelled): the upgrade holds the lock meanwhile. */
const PULL_HANGS: StandInScenario = { hold: 'pullImages' };
/** Validation fails and so does putting the images back: the upgrade ends RollbackFailed. */
const ROLLBACK_FAILS: StandInScenario = {
  fail: [
    { activity: 'validatePlatform', type: 'ValidationFailed', message: 'stand-in: core is down' },
    { activity: 'restorePinnedImages', type: 'RegistryUnreachable', message: 'stand-in: the registry is gone' },
  ],
};

/**
 * The deployment's lock on the real Temporal dev server, with the real upgrade and unlock workflows and the real lock
 * activities on a temporary deploy checkout; the rest of the platform is stood in for, so each run stops where a test
 * says. The sandbox test runs the same scenarios on the real platform.
 */
describe('the upgrade lock, on a real Temporal server', () => {
  let bench: StandInServer;
  let taskQueue: string;
  let root: string;

  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-upgrade-lock-'));
    bench = await startStandInServer({ lockRoot: root });
    taskQueue = bench.taskQueue;
  }, SETUP_TIMEOUT_MS);

  afterEach(async () => {
    for await (const run of bench.client.workflow.list({
      query: `TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Running'`,
    })) {
      await terminateIfRunning(bench.client.workflow.getHandle(run.workflowId, run.runId));
    }
    await fs.rm(path.join(root, '.aegis-upgrade.lock'), { force: true });
  });

  afterAll(async () => {
    await bench?.close();
    if (root) await fs.rm(root, { recursive: true, force: true });
  });

  const start = (workflowId: string, scenario: StandInScenario = {}) => bench.start(workflowId, REQUEST, scenario);

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
    unlockDeployment(bench.client, taskQueue, env, unlockRequest(reason, 'tester@ci'), 60_000);

  test(
    'two upgrades under different workflow IDs: one runs, the other is refused naming it',
    async () => {
      const first = await start('aegis-upgrade-two', PULL_HANGS);
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
      const terminated = await start('aegis-upgrade-staging', PULL_HANGS);
      const held = await holdsLock(terminated);
      await terminated.terminate('operator gave up');

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
      const failed = await start('aegis-upgrade-broken', ROLLBACK_FAILS);
      expect((await upgradeFailure(failed.result())).type).toBe(UpgradeFailureType.RollbackFailed);

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
      const upgrade = await start('aegis-upgrade-busy', PULL_HANGS);
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
      const upgrade = await start('aegis-upgrade-garbled', PULL_HANGS);
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
      // Pre-flight waits, before it takes the lock, until released.
      const upgrade = await start('aegis-upgrade-cancelled', { hold: 'checkPreflight', holdThroughCancel: true });
      await until(() => bench.standIn.holding(upgrade.workflowId));

      await upgrade.cancel();
      bench.standIn.release(upgrade.workflowId);
      const failure = await upgradeFailure(upgrade.result());

      expect(failure.type).toBe(UpgradeFailureType.PreflightFailed);
      expect(failure.message).toContain('cancelled during pre-flight; nothing was changed');
      expect(bench.standIn.lockTakenBy(upgrade.workflowId)).toBe(upgrade.firstExecutionRunId);
      await expect(readLock(root)).resolves.toMatchObject({ state: 'free' });
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'unlock is startable with the temporal CLI input, says when there is nothing to clear, and refuses a bad request',
    async () => {
      const free = await bench.client.workflow.execute(UNLOCK_WORKFLOW_TYPE, {
        taskQueue,
        workflowId: `aegis-unlock-default-${randomUUID()}`,
        args: [{ clearedBy: 'alice@ops-laptop', reason: 'nothing there' }],
      });
      expect(free).toEqual({ path: path.join(root, '.aegis-upgrade.lock') });

      const bad = bench.client.workflow.execute(UNLOCK_WORKFLOW_TYPE, {
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

import type { WorkflowHandle } from '@temporalio/client';
import { execa } from 'execa';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ROLLING_ORDER, UPGRADE_LOCK_FILE, UPGRADE_LOCK_HISTORY_FILE } from '../../src/platform';
import {
  UpgradeFailureType,
  approveSignal,
  progressQuery,
  upgradeWorkflowId,
  type UpgradeReport,
  type UpgradeRequest,
} from '../../src/upgrade';
import { sandboxFaults, type Fault, type SandboxFaults } from '../helpers/faults';
import {
  backupsIn,
  clearServer,
  commandLog,
  dumpEveryDatabase,
  psql,
  runningImages,
  startUpgrade,
  upgradeFailure,
  usePlatform,
  waitFor,
} from '../helpers/platform';
import { activitiesScheduledTwice, activityRuns, recordHistory } from '../helpers/histories';
import { REPO_ROOT } from '../helpers/repo';
import { sandbox } from '../helpers/sandbox';
import type { WorkerProcess } from '../helpers/worker-process';

/**
 * The fault matrix (issue 8): a failure injected at every forward step rolls the upgrade back to exactly what ran
 * before; a worker killed (SIGKILL, with everything it started) inside every step, forward or rollback, is replaced
 * and the upgrade ends as it would have, no completed step run twice; the Temporal server restarted mid-upgrade
 * changes nothing. Faults come from the sandbox's knob (sandbox/faults/shim.sh): the worker runs podman and make
 * through it.
 */

const SCENARIO_TIMEOUT_MS = 5 * 60_000;

/** A forward step and the fault that breaks it. */
interface ForwardFailure {
  name: string;
  /** The step the report must name as the cause. */
  step: string;
  fault?: Fault;
  /** Instead of a command rule: `.env` made immutable, so setting the tag fails. */
  envReadOnly?: boolean;
  targetVersion?: string;
}

const FORWARD_FAILURES: ForwardFailure[] = [
  {
    name: 'a pull',
    step: 'pull-images',
    fault: { action: 'fail', command: 'podman pull *aegis-seal-gateway:1.3.0*' },
  },
  {
    name: 'a dump of the backup',
    step: 'backup',
    fault: { action: 'fail', command: 'podman exec * pg_dump * AEGIS_IMAGE_TAG=1.2.0' },
  },
  { name: 'the write of the tag in .env', step: 'set-tag', envReadOnly: true },
  {
    name: 'the final dump, taken with the writers stopped',
    step: 'final-backup',
    fault: { action: 'fail', command: 'podman exec * pg_dump * AEGIS_IMAGE_TAG=1.3.0' },
  },
  ...ROLLING_ORDER.map((pod): ForwardFailure => ({
    name: `make redeploy POD=${pod}`,
    step: `redeploy:${pod}`,
    fault: { action: 'fail', command: `make * redeploy POD=${pod} *AEGIS_IMAGE_TAG=1.3.0` },
  })),
  ...ROLLING_ORDER.map((pod): ForwardFailure => ({
    name: `the readiness of ${pod} (its containers stopped right after the redeploy)`,
    // The runtime is judged by its migrations first: a runtime that died before them fails that step.
    step: pod === 'core' ? 'migrations' : `redeploy:${pod}`,
    fault: { action: `stop-after:${pod}`, command: `make * redeploy POD=${pod} *AEGIS_IMAGE_TAG=1.3.0` },
  })),
  { name: 'the migrations (release 1.3.1: its second migration fails)', step: 'migrations', targetVersion: '1.3.1' },
  {
    name: 'make validate',
    step: 'validate',
    fault: { action: 'fail', command: 'make * validate *AEGIS_IMAGE_TAG=1.3.0' },
  },
];

/** A command inside each forward step where the worker is held, then killed. */
const FORWARD_KILLS: { step: string; pause: string }[] = [
  { step: 'preflight', pause: 'podman manifest inspect *' },
  { step: 'pull-images', pause: 'podman pull *aegis-runtime:1.3.0*' },
  { step: 'backup', pause: 'podman exec * pg_dump * AEGIS_IMAGE_TAG=1.2.0' },
  { step: 'final-backup', pause: 'podman exec * pg_dump * AEGIS_IMAGE_TAG=1.3.0' },
  ...ROLLING_ORDER.map((pod) => ({
    step: `redeploy:${pod}`,
    pause: `make * redeploy POD=${pod} *AEGIS_IMAGE_TAG=1.3.0`,
  })),
  { step: 'migrations', pause: 'podman logs *aegis-core-aegis-runtime*' },
  { step: 'validate', pause: 'make * validate *AEGIS_IMAGE_TAG=1.3.0' },
];

/**
 * The same inside each step of the rollback of 1.3.1 (its failed migration moved the schema). `armed` rules are added
 * once the rollback runs: pre-flight runs the same command (`make validate` on the same tag) before it.
 */
const ROLLBACK_KILLS: { step: string; pause: string; armed?: 'when-rolling-back' }[] = [
  { step: 'rollback:tag', pause: 'podman tag * AEGIS_IMAGE_TAG=1.3.1' },
  { step: 'rollback:database', pause: 'podman exec * pg_restore -U *' },
  { step: 'rollback:redeploy:core', pause: 'make * redeploy POD=core *AEGIS_IMAGE_TAG=1.2.0' },
  { step: 'rollback:redeploy:database', pause: 'make * redeploy POD=database *AEGIS_IMAGE_TAG=1.2.0' },
  { step: 'rollback:writers', pause: 'podman start * AEGIS_IMAGE_TAG=1.2.0' },
  { step: 'rollback:validate', pause: 'make * validate *AEGIS_IMAGE_TAG=1.2.0', armed: 'when-rolling-back' },
];

/**
 * The pods whose definition names the image tag: an upgrade redeploys only these unless it asks `redeployAll`. A
 * scenario inside the redeploy of another pod (`database`, `observability`) asks it, as an operator would.
 */
const CHANGED_BY_TAG: readonly string[] = ['core', 'temporal', 'seal-gateway'];

/**
 * A terminated upgrade runs no rollback: inside each step from the final dump on, what it leaves stopped. The writers
 * are stopped, and recorded, from the final dump until the new runtime's migrations are judged; a redeploy stops its
 * pod before `make redeploy` (held here).
 */
const TERMINATED_AFTER_WRITERS_STOP: {
  step: string;
  pause: string;
  /** The writers `unlock` starts again. */
  writers: string[];
  /** A pod the run stopped for its redeploy, which is not a writer: pre-flight names it. */
  podLeftStopped?: string;
  /** Every pod already runs 1.3.0: the next upgrade has nothing to do. */
  atTarget?: boolean;
}[] = [
  {
    step: 'final-backup',
    pause: 'podman exec * pg_dump * AEGIS_IMAGE_TAG=1.3.0',
    writers: ['aegis-core-aegis-runtime', 'aegis-temporal-temporal-worker'],
  },
  {
    step: 'redeploy:core',
    pause: 'make * redeploy POD=core *AEGIS_IMAGE_TAG=1.3.0',
    writers: ['aegis-core-aegis-runtime', 'aegis-temporal-temporal-worker'],
  },
  { step: 'migrations', pause: 'podman logs *aegis-core-aegis-runtime*', writers: ['aegis-temporal-temporal-worker'] },
  ...(['temporal', 'seal-gateway'] as const).map((pod) => ({
    step: `redeploy:${pod}`,
    pause: `make * redeploy POD=${pod} *AEGIS_IMAGE_TAG=1.3.0`,
    writers: [],
    podLeftStopped: pod,
  })),
  { step: 'validate', pause: 'make * validate *AEGIS_IMAGE_TAG=1.3.0', writers: [], atTarget: true },
];

function matrixRequest(targetVersion: string, step: string): UpgradeRequest {
  const pod = /(?:^|:)redeploy:(.+)$/.exec(step)?.[1];
  return pod && !CHANGED_BY_TAG.includes(pod) ? { targetVersion, redeployAll: true } : { targetVersion };
}

/** What an upgrade may change, whole: `.env`, the image of every container, every database. */
interface PlatformState {
  env: string;
  images: Record<string, string>;
  databases: Record<string, string>;
}

describe('the fault matrix on the sandbox', () => {
  const platform = usePlatform({ AEGIS_READY_TIMEOUT_SECONDS: '15' });
  let faults: SandboxFaults;
  let worker: WorkerProcess | undefined;
  /** Everything every worker of this file printed: checked for secrets at the end. */
  const workerLogs: string[] = [];
  /** Scenarios started, and the upgrades that ended as expected, by outcome (a scenario may run several). */
  const tally = { scenarios: 0, rolledBack: 0, completed: 0, refused: 0 };
  const started = Date.now();

  /** Our CLI, as operators run it, against this file's server and task queue. */
  const aegisUpgrade = (args: string[]) =>
    execa('node', [path.join(REPO_ROOT, 'bin', 'aegis-upgrade.js'), ...args], {
      env: platform.env,
      reject: false,
      all: true,
    });
  const startWorker = async () => {
    worker = await platform.startWorker({ PATH: faults.workerPath() });
    return worker;
  };
  const killWorker = async () => {
    await worker?.killTree();
    workerLogs.push(worker?.output() ?? '');
    worker = undefined;
  };

  beforeAll(() => {
    faults = sandboxFaults(platform.env);
  });

  /** Each scenario starts from the sandbox's baseline (1.2.0, no fault) with a worker running. */
  const eachScenario = () => {
    beforeEach(async () => {
      await sandbox('reset');
      if (!worker) await startWorker();
      tally.scenarios++;
    }, SCENARIO_TIMEOUT_MS);

    afterEach(async () => {
      await clearServer(platform.client);
      await faults.envReadOnly(platform.root, false);
      await faults.clear();
    });
  };

  afterAll(async () => {
    if (worker) {
      await worker.stop();
      workerLogs.push(worker.output());
    }
    const minutes = ((Date.now() - started) / 60_000).toFixed(1);
    process.stdout.write(
      `fault matrix: ${tally.scenarios} scenarios in ${minutes} min; upgrades that ended as each scenario expected: ` +
        `${tally.rolledBack} rolled back, ${tally.completed} completed, ${tally.refused} refused\n`,
    );
  });

  const platformState = async (): Promise<PlatformState> => ({
    env: await fs.readFile(path.join(platform.root, '.env'), 'utf8'),
    images: await runningImages(),
    databases: await dumpEveryDatabase(),
  });

  const lockLeft = () =>
    fs.stat(path.join(platform.root, UPGRADE_LOCK_FILE)).then(
      () => true,
      () => false,
    );

  /** The make targets the sandbox recorded, but `validate`, which only looks (pre-flight runs it too). */
  const changingCommands = async () => (await commandLog(platform.env)).filter((line) => !line.startsWith('validate '));

  async function expectRolledBack(handle: WorkflowHandle, step: string, before: PlatformState): Promise<void> {
    const failure = await upgradeFailure(handle.result());
    expect({ type: failure.type, step: failure.report.cause?.step }).toEqual({
      type: UpgradeFailureType.UpgradeRolledBack,
      step,
    });
    expect(await platformState()).toEqual(before);
    expect(await lockLeft()).toBe(false);
    tally.rolledBack++;
  }

  async function expectCompleted(handle: WorkflowHandle, redeployAll = false): Promise<UpgradeReport> {
    const report: UpgradeReport = await handle.result();
    expect(report.phase).toBe('completed');
    expect(activitiesScheduledTwice(activityRuns(await handle.fetchHistory()))).toEqual([]);
    expect(/^AEGIS_IMAGE_TAG=(.*)$/m.exec((await platformState()).env)?.[1]).toBe('1.3.0');
    expect(await runningImages()).toMatchObject({
      'aegis-core-aegis-runtime': `${platform.env.AEGIS_REGISTRY}/aegis-runtime:1.3.0`,
      'aegis-temporal-temporal-worker': `${platform.env.AEGIS_REGISTRY}/aegis-temporal-worker:1.3.0`,
      'aegis-seal-gateway-seal-gateway': `${platform.env.AEGIS_REGISTRY}/aegis-seal-gateway:1.3.0`,
    });
    // Every pod to redeploy was redeployed once: the killed step's `make` was held before it ran anything.
    const redeploys = (await commandLog(platform.env)).filter((line) => line.startsWith('redeploy'));
    expect(redeploys.map((line) => /POD=(\S+)/.exec(line)?.[1])).toEqual(
      ROLLING_ORDER.filter((pod) => redeployAll || CHANGED_BY_TAG.includes(pod)),
    );
    expect(await lockLeft()).toBe(false);
    tally.completed++;
    return report;
  }

  /** Holds the worker at `pause`, checks the upgrade is inside `step`, kills the worker and starts another. */
  async function killInside(handle: WorkflowHandle, fault: Fault, step: string): Promise<void> {
    await faults.paused();
    const progress = await handle.query(progressQuery);
    // The pull and the backup run side by side: the step is one of those running.
    const running = [...progress.steps, ...progress.rollback].filter((record) => record.status === 'running');
    expect(running.map((record) => record.id)).toContain(step);
    await killWorker();
    await faults.remove(fault);
    await startWorker();
  }

  describe('a failure injected in a forward step rolls everything back', () => {
    eachScenario();

    test.each(FORWARD_FAILURES)(
      '$name → UpgradeRolledBack at $step, .env, images and every database as before',
      async ({ step, fault, envReadOnly, targetVersion = '1.3.0' }) => {
        const before = await platformState();
        if (fault) await faults.add(fault);
        if (envReadOnly) await faults.envReadOnly(platform.root, true);
        const handle = await startUpgrade(platform, matrixRequest(targetVersion, step));
        await expectRolledBack(handle, step, before);
      },
      SCENARIO_TIMEOUT_MS,
    );

    test(
      'a failure in pre-flight → PreflightFailed: nothing changed, no lock, no backup',
      async () => {
        const before = await platformState();
        await faults.add({ action: 'fail', command: 'podman manifest inspect *' });
        const failure = await upgradeFailure((await startUpgrade(platform, { targetVersion: '1.3.0' })).result());

        expect(failure.type).toBe(UpgradeFailureType.PreflightFailed);
        expect(failure.message).toContain('sandbox fault: podman manifest inspect');
        expect(await platformState()).toEqual(before);
        expect(await lockLeft()).toBe(false);
        expect(await backupsIn(platform.root)).toEqual([]);
        tally.refused++;
      },
      SCENARIO_TIMEOUT_MS,
    );
  });

  describe('a worker killed inside a forward step is replaced and the upgrade completes', () => {
    eachScenario();

    test.each(FORWARD_KILLS)(
      'SIGKILL inside $step → completed, no completed step run twice',
      async ({ step, pause }) => {
        const fault: Fault = { action: 'pause', command: pause };
        await faults.add(fault);
        const request = matrixRequest('1.3.0', step);
        const handle = await startUpgrade(platform, request);
        await killInside(handle, fault, step);
        await expectCompleted(handle, request.redeployAll);
      },
      SCENARIO_TIMEOUT_MS,
    );

    test(
      'SIGKILL inside set-tag (while it retries a write that fails) → completed, no completed step run twice',
      async () => {
        await faults.envReadOnly(platform.root, true);
        const handle = await startUpgrade(platform, { targetVersion: '1.3.0' });
        await waitFor(
          async () =>
            ((await handle.describe()).raw.pendingActivities ?? []).some(
              (activity) => activity.activityType?.name === 'setImageTag' && (activity.attempt ?? 0) >= 2,
            ),
          60_000,
        );
        expect((await handle.query(progressQuery)).currentStep).toBe('set-tag');
        await killWorker();
        await faults.envReadOnly(platform.root, false);
        await startWorker();
        await expectCompleted(handle);
      },
      SCENARIO_TIMEOUT_MS,
    );
  });

  describe('a worker killed inside a rollback step is replaced and the rollback completes', () => {
    eachScenario();

    test.each(ROLLBACK_KILLS)(
      'SIGKILL inside $step of the rollback of 1.3.1 → UpgradeRolledBack, everything as before',
      async ({ step, pause, armed }) => {
        const before = await platformState();
        const fault: Fault = { action: 'pause', command: pause };
        if (!armed) await faults.add(fault);
        const handle = await startUpgrade(platform, matrixRequest('1.3.1', step));
        if (armed) {
          await waitFor(async () => (await handle.query(progressQuery)).phase === 'rolling-back');
          await faults.add(fault);
        }
        await killInside(handle, fault, step);
        await expectRolledBack(handle, 'migrations', before);
        await recordHistory(handle, `platform-killed-in-${step.replace(/:/g, '-')}`);
      },
      SCENARIO_TIMEOUT_MS,
    );
  });

  describe('the lock: one upgrade of a deployment at a time, a dead one cleared only by hand', () => {
    eachScenario();

    test(
      'two upgrades under different workflow IDs → one runs, the other is refused naming it, nothing changed by it',
      async () => {
        const baseline = await platformState();
        const first = await startUpgrade(platform, { targetVersion: '1.3.0', approveBefore: ['core'] });
        await waitFor(async () => (await first.query(progressQuery)).phase === 'waiting-for-approval');
        const atTheGate = await platformState();
        const second = await startUpgrade(platform, { targetVersion: '1.3.0' });
        const refusal = await upgradeFailure(second.result());

        expect(refusal.type).toBe(UpgradeFailureType.PreflightFailed);
        expect(refusal.message).toContain(first.workflowId);
        expect(refusal.message).toContain('aegis-upgrade unlock --env');
        expect(await platformState()).toEqual(atTheGate);
        tally.refused++;
        await first.cancel();
        await expectRolledBack(first, 'approve:core', baseline);
      },
      SCENARIO_TIMEOUT_MS,
    );

    test.each(TERMINATED_AFTER_WRITERS_STOP)(
      'terminated inside $step → the next is refused naming it → aegis-upgrade unlock starts again the writers it had ' +
        'stopped ($writers) → the next upgrade completes',
      async ({ pause, writers, podLeftStopped, atTarget }) => {
        // The worker serves environment default: its upgrades, its unlock.
        const workflowId = upgradeWorkflowId('default');
        const held: Fault = { action: 'pause', command: pause };
        await faults.add(held);
        const terminated = await startUpgrade(platform, { targetVersion: '1.3.0' }, workflowId);
        await faults.paused();
        await terminated.terminate('the fault matrix terminates it half-way, holding the lock');
        // Termination runs no rollback and stops no activity: the worker that ran it is restarted, like a host reboot.
        await killWorker();
        await faults.remove(held);
        await startWorker();

        const refused = await upgradeFailure(
          (await startUpgrade(platform, { targetVersion: '1.3.0' }, workflowId)).result(),
        );
        expect(refused.type).toBe(UpgradeFailureType.PreflightFailed);
        expect(refused.message).toContain(terminated.firstExecutionRunId);
        expect(refused.message).toContain('aegis-upgrade unlock --env');
        tally.refused++;

        const unlocked = await aegisUpgrade([
          'unlock',
          '--env',
          'default',
          '--reason',
          'terminated by the fault matrix',
        ]);
        expect({ exitCode: unlocked.exitCode, output: unlocked.all }).toMatchObject({ exitCode: 0 });
        const restarted = /^Started again the database writers .*: (.*)$/m.exec(unlocked.all ?? '')?.[1];
        expect({ restarted: restarted?.split(', ') ?? [], output: unlocked.all }).toMatchObject({ restarted: writers });
        const history = path.join(platform.root, UPGRADE_LOCK_HISTORY_FILE);
        expect((await fs.readFile(history, 'utf8')).trim().split('\n')).toHaveLength(1);
        expect(((await fs.stat(history)).mode & 0o777).toString(8)).toBe('600');

        if (podLeftStopped) {
          // The run had stopped this pod for its redeploy: pre-flight names it, and the operator brings it back.
          const named = await upgradeFailure(
            (await startUpgrade(platform, { targetVersion: '1.3.0' }, workflowId)).result(),
          );
          expect({ type: named.type, message: named.message }).toMatchObject({
            type: UpgradeFailureType.PreflightFailed,
            message: expect.stringContaining(`aegis-${podLeftStopped}`),
          });
          tally.refused++;
          await execa('podman', ['pod', 'start', `aegis-${podLeftStopped}`]);
        }
        await fs.writeFile(platform.env.AEGIS_SANDBOX_COMMAND_LOG ?? '', '');
        const next = await startUpgrade(platform, { targetVersion: '1.3.0' }, workflowId);
        if (atTarget) {
          const report: UpgradeReport = await next.result();
          expect(report.notes).toEqual(['Already at 1.3.0: nothing pulled, backed up, changed or redeployed']);
          tally.completed++;
          return;
        }
        // `.env` already says 1.3.0 but some pods still run 1.2.0: not "already at", a real upgrade, which redeploys
        // every pod (with the tag already set, it cannot tell which pods run what the new tag renders), and says why.
        const report = await expectCompleted(next, true);
        expect(report.notes ?? []).toEqual([]);
        expect(report.steps.find((record) => record.id === 'preflight')?.detail).toContain(
          'Left part-way by an earlier upgrade: .env names 1.3.0 already',
        );
      },
      SCENARIO_TIMEOUT_MS,
    );
  });

  describe('requests that need no change, or would break the schema', () => {
    eachScenario();

    test(
      'at 1.3.0: 1.3.0 again changes nothing (no make, no backup); 1.2.0 (a downgrade) is refused, nothing changed',
      async () => {
        await expectCompleted(await startUpgrade(platform, { targetVersion: '1.3.0' }));
        await fs.writeFile(platform.env.AEGIS_SANDBOX_COMMAND_LOG ?? '', '');
        const upgraded = await platformState();
        const backups = await backupsIn(platform.root);

        const again: UpgradeReport = await (await startUpgrade(platform, { targetVersion: '1.3.0' })).result();
        expect(again.notes).toEqual(['Already at 1.3.0: nothing pulled, backed up, changed or redeployed']);
        expect(await changingCommands()).toEqual([]);
        expect(await backupsIn(platform.root)).toEqual(backups);

        const downgrade = await upgradeFailure((await startUpgrade(platform, { targetVersion: '1.2.0' })).result());
        expect(downgrade.type).toBe(UpgradeFailureType.PreflightFailed);
        expect(downgrade.message).toContain('restoreFrom');
        expect(await platformState()).toEqual(upgraded);
        expect(await changingCommands()).toEqual([]);
        expect(await lockLeft()).toBe(false);
        tally.completed++;
        tally.refused++;
      },
      SCENARIO_TIMEOUT_MS,
    );
  });

  describe('pre-flight refuses a platform that cannot be upgraded now, changing nothing', () => {
    eachScenario();

    const refusals: { name: string; breakIt: () => Promise<unknown>; says: string[] }[] = [
      {
        name: 'GHCR_TOKEN emptied in .env',
        breakIt: async () => {
          const file = path.join(platform.root, '.env');
          await fs.writeFile(file, (await fs.readFile(file, 'utf8')).replace(/^GHCR_TOKEN=.*$/m, 'GHCR_TOKEN='));
        },
        says: ['registry-login', 'GHCR_TOKEN is not set'],
      },
      { name: 'the registry gone', breakIt: () => faults.knob('registry-down'), says: ['registry-login'] },
      {
        name: 'the SEAL gateway stopped',
        breakIt: () => execa('podman', ['pod', 'stop', '-t', '0', 'aegis-seal-gateway']),
        says: ['aegis-seal-gateway'],
      },
      { name: 'PostgreSQL gone', breakIt: () => faults.knob('database-down'), says: ['aegis-database'] },
    ];

    test.each(refusals)(
      '$name → PreflightFailed naming it; no lock, no backup, nothing else changed',
      async ({ breakIt, says }) => {
        await breakIt();
        const env = await fs.readFile(path.join(platform.root, '.env'), 'utf8');
        const images = await runningImages();
        const handle = await startUpgrade(platform, { targetVersion: '1.3.0' });
        const failure = await upgradeFailure(handle.result());

        expect(failure.type).toBe(UpgradeFailureType.PreflightFailed);
        for (const words of says) expect(failure.message).toContain(words);
        expect(await fs.readFile(path.join(platform.root, '.env'), 'utf8')).toBe(env);
        expect(await runningImages()).toEqual(images);
        expect(await lockLeft()).toBe(false);
        expect(await backupsIn(platform.root)).toEqual([]);
        expect(await changingCommands()).toEqual([]);
        tally.refused++;
      },
      SCENARIO_TIMEOUT_MS,
    );
  });

  describe('outages and writes during an upgrade', () => {
    eachScenario();

    test(
      'an abort while a downgrade restores its backup → the rollback waits for the restore to end; back on 1.3.0, identical',
      async () => {
        const upgraded = await expectCompleted(await startUpgrade(platform, { targetVersion: '1.3.0' }));
        const before = await platformState();
        // The restore's commands do not see the cancellation: held here, the restore goes on once released.
        const held: Fault = { action: 'pause', command: 'podman exec * pg_restore -U *' };
        await faults.add(held);
        const restoreFrom = path.basename(upgraded.backup?.location ?? '');
        const handle = await startUpgrade(platform, { targetVersion: '1.2.0', restoreFrom });
        await faults.paused();
        expect((await handle.query(progressQuery)).steps.find((step) => step.id === 'restore-from')?.status).toBe(
          'running',
        );

        await handle.cancel();
        await new Promise((resolve) => setTimeout(resolve, 10_000));
        const rollbackWhileHeld = (await handle.query(progressQuery)).rollback.filter(
          (step) => step.status !== 'pending',
        );
        await faults.remove(held);

        expect(rollbackWhileHeld).toEqual([]);
        // The restore ends whole; the cancellation stops the next step, and the rollback restores the downgrade's backup.
        await expectRolledBack(handle, 'redeploy:core', before);
      },
      SCENARIO_TIMEOUT_MS,
    );

    test(
      'the registry gone while the rollback redeploys → the rollback retries (status shows it) and completes when it is back',
      async () => {
        const before = await platformState();
        const held: Fault = { action: 'pause', command: 'make * redeploy POD=database *AEGIS_IMAGE_TAG=1.2.0' };
        await faults.add(held);
        const workflowId = upgradeWorkflowId('default');
        const request = matrixRequest('1.3.1', 'rollback:redeploy:database');
        const handle = await startUpgrade(platform, request, workflowId);
        await faults.paused();
        await faults.knob('registry-down');
        await faults.remove(held);
        let status = '';
        await waitFor(async () => {
          status = (await aegisUpgrade(['status', '--env', 'default'])).stdout;
          return /retrying .*attempt [2-9]/.test(status);
        }, 120_000);
        expect(status).toContain('registry-login');
        await faults.knob('registry-up');
        await expectRolledBack(handle, 'migrations', before);
      },
      SCENARIO_TIMEOUT_MS,
    );

    test(
      'a row written while the upgrade waits at a gate survives the rollback; the report says what was discarded',
      async () => {
        const baseline = await platformState();
        const handle = await startUpgrade(platform, { targetVersion: '1.3.1', approveBefore: ['core'] });
        await waitFor(async () => (await handle.query(progressQuery)).phase === 'waiting-for-approval');
        await psql(
          "insert into agents (id, name, version, status, manifest) values ('a0000000-0000-4000-8000-00000000ab1e', 'written-at-the-gate', '1.0.0', 'active', '{}')",
        );
        const atTheGate = await dumpEveryDatabase();
        const approvedAt = Date.now();
        await handle.signal(approveSignal);
        const failure = await upgradeFailure(handle.result());
        const endedAt = Date.now();

        expect(failure.type).toBe(UpgradeFailureType.UpgradeRolledBack);
        expect(await psql("select name from agents where name = 'written-at-the-gate'")).toBe('written-at-the-gate');
        expect(await dumpEveryDatabase()).toEqual(atTheGate);
        expect(await platformState()).toMatchObject({ env: baseline.env, images: baseline.images });
        const restore = failure.report.databaseRestore;
        expect(restore).toMatchObject({ databases: ['aegis'], writersStopped: true });
        expect(restore?.dumps).toEqual([expect.stringMatching(/\/final\/aegis\.dump$/)]);
        for (const dump of restore?.preRestoreDumps ?? []) expect((await fs.stat(dump)).size).toBeGreaterThan(0);
        expect(restore?.preRestoreDumps).toHaveLength(1);
        // The writes discarded are those from the final dump, taken after the gate (the row is older), to the restore.
        const restoreStep = failure.report.rollback.find((step) => step.id === 'rollback:database');
        const restoreStarted = Date.parse(restoreStep?.startedAt ?? '');
        const { from, to } = restore?.discardedWrites ?? { from: '', to: '' };
        expect({ from, to }).toEqual({ from: failure.report.backup?.final?.takenAt, to: restore?.restoredAt });
        expect({
          from,
          startsAfterTheGate: Date.parse(from) >= approvedAt,
          to,
          endsInTheRestore: Date.parse(to) >= restoreStarted && Date.parse(to) <= endedAt,
        }).toMatchObject({ startsAfterTheGate: true, endsInTheRestore: true });
        tally.rolledBack++;
      },
      SCENARIO_TIMEOUT_MS,
    );
  });

  describe('the Temporal server', () => {
    eachScenario();

    test(
      'stopped and started again mid-upgrade → the upgrade completes',
      async () => {
        const fault: Fault = { action: 'pause', command: 'make * redeploy POD=seal-gateway *AEGIS_IMAGE_TAG=1.3.0' };
        await faults.add(fault);
        const handle = await startUpgrade(platform, { targetVersion: '1.3.0' });
        await faults.paused();
        await platform.server.restart();
        await faults.remove(fault);
        await expectCompleted(handle);
      },
      SCENARIO_TIMEOUT_MS,
    );
  });

  test('after every scenario, no worker printed a secret of .env', () => {
    expect(platform.secrets.size).toBeGreaterThan(0);
    const logs = [...workerLogs, worker?.output() ?? ''].join('\n');
    expect(logs.length).toBeGreaterThan(0);
    for (const [secret, key] of platform.secrets)
      expect({ key, printed: logs.includes(secret) }).toEqual({ key, printed: false });
  });
});

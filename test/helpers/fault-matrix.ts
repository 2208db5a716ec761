import type { WorkflowHandle } from '@temporalio/client';
import { execa } from 'execa';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ROLLING_ORDER, UPGRADE_LOCK_FILE } from '../../src/core/platform';
import { UpgradeFailureType, progressQuery, type UpgradeReport, type UpgradeRequest } from '../../src/core/upgrade';
import { sandboxFaults, type Fault, type SandboxFaults } from './faults';
import {
  clearServer,
  commandLog,
  dumpEveryDatabase,
  hostCliState,
  runningImages,
  upgradeFailure,
  usePlatform,
  waitFor,
} from './platform';
import { REPO_ROOT } from './repo';
import { expectEachChangeOnce, readCommandsRun } from './commands-run';
import { recordMatrixPart, type JournalTally } from './matrix-tally';
import { sandbox } from './sandbox';
import type { WorkerProcess } from './worker-process';

/**
 * The fault matrix (issue 8): a failure injected at every forward step rolls the upgrade back to exactly what ran
 * before; a worker killed (SIGKILL, with everything it started) inside every step, forward or rollback, is replaced
 * and the upgrade ends as it would have, no completed step run twice; the Temporal server restarted mid-upgrade
 * changes nothing. Faults come from the sandbox's knob (sandbox/faults/shim.sh): the worker runs podman and make
 * through it.
 */

export const SCENARIO_TIMEOUT_MS = 5 * 60_000;

/** A forward step and the fault that breaks it. */
export interface ForwardFailure {
  name: string;
  /** The step the report must name as the cause. */
  step: string;
  fault?: Fault;
  /** Instead of a command rule: `.env` made immutable, so setting the tag fails. */
  envReadOnly?: boolean;
  targetVersion?: string;
}

export const FORWARD_FAILURES: ForwardFailure[] = [
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
    name: "the FUSE daemon on the new release's binary (it fails at every start)",
    step: 'host-cli',
    fault: { action: 'fail', command: 'aegis fuse-daemon start * version=1.3.0' },
  },
  {
    name: 'make validate',
    step: 'validate',
    fault: { action: 'fail', command: 'make * validate *AEGIS_IMAGE_TAG=1.3.0' },
  },
];

/**
 * A command inside each forward step where the worker is held, then killed; once the commands `settled` names (run
 * beside the one held) have ended, so that the retry finds them done.
 */
export const FORWARD_KILLS: { step: string; pause: string; settled?: RegExp[] }[] = [
  { step: 'preflight', pause: 'podman manifest inspect *' },
  {
    step: 'pull-images',
    pause: 'podman pull *aegis-runtime:1.3.0*',
    settled: [/^podman pull .*\/aegis-temporal-worker:1\.3\.0 /, /^podman pull .*\/aegis-seal-gateway:1\.3\.0 /],
  },
  { step: 'backup', pause: 'podman exec * pg_dump * AEGIS_IMAGE_TAG=1.2.0' },
  { step: 'final-backup', pause: 'podman exec * pg_dump * AEGIS_IMAGE_TAG=1.3.0' },
  ...ROLLING_ORDER.map((pod) => ({
    step: `redeploy:${pod}`,
    pause: `make * redeploy POD=${pod} *AEGIS_IMAGE_TAG=1.3.0`,
  })),
  { step: 'migrations', pause: 'podman logs *aegis-core-aegis-runtime*' },
  // Between the binary and the daemon: bin/aegis is the new release's, the daemon still runs the old one.
  { step: 'host-cli', pause: 'systemctl --user restart aegis-fuse-daemon *AEGIS_IMAGE_TAG=1.3.0' },
  { step: 'validate', pause: 'make * validate *AEGIS_IMAGE_TAG=1.3.0' },
];

/**
 * The same inside each step of the rollback of 1.3.1 (its failed migration moved the schema). `armed` rules are added
 * once the rollback runs: pre-flight runs the same command (`make validate` on the same tag) before it.
 */
export const ROLLBACK_KILLS: { step: string; pause: string; armed?: 'when-rolling-back' }[] = [
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
export const CHANGED_BY_TAG: readonly string[] = ['core', 'temporal', 'seal-gateway'];

/**
 * A terminated upgrade runs no rollback: inside each step from the final dump on, what it leaves stopped. The writers
 * are stopped, and recorded, from the final dump until the new runtime's migrations are judged; a redeploy stops its
 * pod before `make redeploy` (held here).
 */
export const TERMINATED_AFTER_WRITERS_STOP: {
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

export function matrixRequest(targetVersion: string, step: string): UpgradeRequest {
  const pod = /(?:^|:)redeploy:(.+)$/.exec(step)?.[1];
  return pod && !CHANGED_BY_TAG.includes(pod) ? { targetVersion, redeployAll: true } : { targetVersion };
}

/** The changes of an upgrade to 1.3.0 that the journal must find once each: its pulls, then its redeploys. */
export function completedChanges(redeployAll = false): RegExp[] {
  return [
    ...['aegis-runtime', 'aegis-temporal-worker', 'aegis-seal-gateway'].map(
      (image) => new RegExp(`^podman pull .*/${image}:1\\.3\\.0 `),
    ),
    ...ROLLING_ORDER.filter((pod) => redeployAll || CHANGED_BY_TAG.includes(pod)).map(
      (pod) => new RegExp(`^make .* redeploy POD=${pod} .*AEGIS_IMAGE_TAG=1\\.3\\.0$`),
    ),
  ];
}

/** What an upgrade may change, whole: `.env`, the image of every container, every database, the host's binary. */
export interface PlatformState {
  env: string;
  images: Record<string, string>;
  databases: Record<string, string>;
  /** `bin/aegis --version`, and the FUSE daemon's state and the version it started as. */
  hostCli: { binary: string; daemon: string };
}

/** One part of the matrix (a file of its own, so that parts run side by side, each on a sandbox of its own). */
export type MatrixPart = 'forward-failures' | 'forward-kills' | 'rollbacks' | 'lock-and-refusals';

/**
 * What every part shares: the platform on this lane's sandbox, its faults, a worker, the tally, and the checks of
 * an upgrade rolled back or completed.
 */
export function useFaultMatrix(part: MatrixPart) {
  const platform = usePlatform({ AEGIS_READY_TIMEOUT_SECONDS: '15' });
  // Filled once the platform is up: the parts take it apart when they are declared.
  const faults = {} as SandboxFaults;
  let worker: WorkerProcess | undefined;
  /** Everything every worker of this part printed: checked for secrets at the end. */
  const workerLogs: string[] = [];
  /** Scenarios started, and the upgrades that ended as expected, by outcome (a scenario may run several). */
  const tally = { scenarios: 0, rolledBack: 0, completed: 0, refused: 0, rollbackFailed: 0 };
  /** What the journal of commands proved, over the scenarios that checked it. */
  const journal: JournalTally = { scenarios: 0, succeeded: 0, harmless: {} };
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
    Object.assign(faults, sandboxFaults(platform.env));
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
    await recordMatrixPart({ part, ...tally, journal, startedAt: started, endedAt: Date.now() });
  });

  const platformState = async (): Promise<PlatformState> => ({
    env: await fs.readFile(path.join(platform.root, '.env'), 'utf8'),
    images: await runningImages(),
    databases: await dumpEveryDatabase(),
    hostCli: await hostCliState(platform.root),
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
    const after = await platformState();
    expect(/^AEGIS_IMAGE_TAG=(.*)$/m.exec(after.env)?.[1]).toBe('1.3.0');
    expect(after.hostCli).toEqual({ binary: 'aegis 1.3.0', daemon: 'active (running), started as aegis 1.3.0' });
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

  /**
   * Holds the worker at `pause`, checks the upgrade is inside `step`, kills the worker and starts another. `kill` counts
   * the kills of one scenario: the second waits for the second command held. The kill waits for each command `settled`
   * names to have succeeded.
   */
  async function killInside(
    handle: WorkflowHandle,
    fault: Fault,
    step: string,
    { kill = 1, settled = [] }: { kill?: number; settled?: readonly RegExp[] } = {},
  ): Promise<void> {
    await faults.paused(undefined, kill);
    await waitFor(async () => {
      const runs = await readCommandsRun(platform.env);
      return settled.every((pattern) => runs.some((run) => pattern.test(run.command) && run.exitCode === 0));
    });
    const progress = await handle.query(progressQuery);
    // The pull and the backup run side by side: the step is one of those running.
    const running = [...progress.steps, ...progress.rollback].filter((record) => record.status === 'running');
    expect(running.map((record) => record.id)).toContain(step);
    await killWorker();
    await faults.remove(fault);
    await startWorker();
  }

  /**
   * No change the worker ran was made twice (the journal of commands), and each of `including` ran once: for the
   * scenarios where one upgrade runs, killed or not (test/helpers/commands-run.ts says what is allowed after a kill).
   */
  const expectNoChangeTwice = async (options: { killed: boolean; including?: readonly RegExp[] }) => {
    const checked = await expectEachChangeOnce(platform.env, options);
    journal.scenarios++;
    journal.succeeded += checked.succeeded;
    for (const reason of checked.harmless) journal.harmless[reason] = (journal.harmless[reason] ?? 0) + 1;
  };

  /** The last test of each part: no worker printed a secret of `.env`. */
  const expectNoSecretPrinted = () => {
    expect(platform.secrets.size).toBeGreaterThan(0);
    const logs = [...workerLogs, worker?.output() ?? ''].join('\n');
    expect(logs.length).toBeGreaterThan(0);
    for (const [secret, key] of platform.secrets)
      expect({ key, printed: logs.includes(secret) }).toEqual({ key, printed: false });
  };

  return {
    platform,
    faults,
    tally,
    aegisUpgrade,
    startWorker,
    killWorker,
    eachScenario,
    platformState,
    lockLeft,
    changingCommands,
    expectRolledBack,
    expectCompleted,
    killInside,
    expectNoChangeTwice,
    expectNoSecretPrinted,
  };
}

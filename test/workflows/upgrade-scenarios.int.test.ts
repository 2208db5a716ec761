import type { WorkflowHandle } from '@temporalio/client';
import {
  UpgradeFailureType,
  approveSignal,
  progressQuery,
  type UpgradePhase,
  type UpgradeReport,
  type UpgradeRequest,
} from '../../src/core/upgrade';
import { recordHistory } from '../helpers/histories';
import { upgradeFailure } from '../helpers/platform';
import {
  startStandInServer,
  until,
  type StandInScenario,
  type StandInServer,
  type StandIns,
} from '../helpers/stand-in-activities';

const SETUP_TIMEOUT_MS = 2 * 60_000;
const SCENARIO_TIMEOUT_MS = 60_000;

/**
 * The workflow's paths on the real dev server, with stand-in activities: what each scenario does to the step order,
 * and (with AEGIS_RECORD_HISTORIES=1) the histories the replay test replays against every later version of the code.
 */
describe('upgrade scenarios on stand-in activities', () => {
  let bench: StandInServer;
  let standIn: StandIns;

  beforeAll(async () => {
    bench = await startStandInServer();
    standIn = bench.standIn;
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await bench?.close();
  });

  const start = (name: string, request: UpgradeRequest, scenario: StandInScenario = {}, queue?: string) =>
    bench.start(`aegis-upgrade-${name}`, request, scenario, queue);

  test(
    'completed: every pod redeployed in order, the lock released',
    async () => {
      const handle = await start('completed', { targetVersion: '1.3.0' });
      const report: UpgradeReport = await handle.result();
      expect(report.phase).toBe('completed');
      const calls = standIn.calls(handle.workflowId);
      // The pull and the backup (the host's binary kept after the dumps) run side by side: their calls interleave.
      expect(calls.slice(0, 5).sort()).toEqual([
        'backUpDatabases',
        'checkPreflight',
        'keepHostCli',
        'pinRunningImages',
        'pullImages',
      ]);
      expect(calls.slice(5)).toEqual([
        'snapshotMigrations',
        'setImageTag',
        'redeployPod:database',
        'awaitPodReady:database',
        'backUpFinal',
        'redeployPod:core',
        'awaitMigrations',
        'resumeWriters',
        'awaitPodReady:core',
        'installHostCli',
        'redeployPod:temporal',
        'awaitPodReady:temporal',
        'redeployPod:seal-gateway',
        'awaitPodReady:seal-gateway',
        'validatePlatform',
        'releaseUpgradeLock',
      ]);
      await recordHistory(handle, 'completed');
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    'concurrentAfterCore: the pods after core are redeployed at once, once core is migrated and ready',
    async () => {
      const handle = await start('concurrent-after-core', { targetVersion: '1.3.0', concurrentAfterCore: true });
      const report: UpgradeReport = await handle.result();
      expect(report.phase).toBe('completed');
      const calls = standIn.calls(handle.workflowId);
      const afterCore = calls.slice(calls.indexOf('installHostCli') + 1, calls.indexOf('validatePlatform'));
      // Both redeploys are asked for before either pod is waited for: they run side by side.
      expect(afterCore.slice(0, 2).sort()).toEqual(['redeployPod:seal-gateway', 'redeployPod:temporal']);
      expect(afterCore.slice(2).sort()).toEqual(['awaitPodReady:seal-gateway', 'awaitPodReady:temporal']);
      expect(report.steps.filter((step) => step.id.startsWith('redeploy:')).map((step) => step.status)).toEqual([
        'succeeded',
        'succeeded',
        'succeeded',
        'succeeded',
      ]);
    },
    SCENARIO_TIMEOUT_MS,
  );

  test.each([
    ['rolled-back-pull', 'pullImages', 'pull-images'],
    ['rolled-back-migrations', 'awaitMigrations', 'migrations'],
    ['rolled-back-redeploy-temporal', 'awaitPodReady:temporal', 'redeploy:temporal'],
    ['rolled-back-validate', 'validatePlatform', 'validate'],
  ])(
    '%s: a failure in %s rolls back and names step %s',
    async (name, activity, step) => {
      const handle = await start(
        name,
        { targetVersion: '1.3.1' },
        { fail: [{ activity, type: 'Fault', message: 'x' }] },
      );
      const failure = await upgradeFailure(handle.result());
      expect(failure.type).toBe(UpgradeFailureType.UpgradeRolledBack);
      expect(failure.report.cause?.step).toBe(step);
      expect(failure.report.phase).toBe('rolled-back');
      expect(standIn.calls(handle.workflowId).at(-1)).toBe('releaseUpgradeLock');
      await recordHistory(handle, name);
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    'refused: pre-flight refuses, releases the lock, nothing else scheduled',
    async () => {
      const handle = await start('refused', { targetVersion: '1.3.0' }, { refuse: 'Images missing from the registry' });
      const failure = await upgradeFailure(handle.result());
      expect(failure.type).toBe(UpgradeFailureType.PreflightFailed);
      // A refused pre-flight releases the lock it may have taken, and schedules nothing else.
      expect(standIn.calls(handle.workflowId)).toEqual(['checkPreflight', 'releaseUpgradeLock']);
      await recordHistory(handle, 'refused');
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    'planned: a dry run only runs pre-flight',
    async () => {
      const handle = await start('planned', { targetVersion: '1.3.0', dryRun: true });
      const report: UpgradeReport = await handle.result();
      expect(report.phase).toBe('planned');
      expect(standIn.calls(handle.workflowId)).toEqual(['checkPreflight']);
      await recordHistory(handle, 'planned');
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    'cancelled: an abort during the runtime redeploy rolls back',
    async () => {
      const handle = await start('cancelled', { targetVersion: '1.3.0' }, { hold: 'redeployPod:core' });
      await until(() => standIn.holding(handle.workflowId));
      await handle.cancel();
      const failure = await upgradeFailure(handle.result());
      expect(failure.type).toBe(UpgradeFailureType.UpgradeRolledBack);
      expect(failure.report.cause?.message).toContain('cancelled');
      await recordHistory(handle, 'cancelled');
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    'approved: the upgrade waits before core until approved',
    async () => {
      const handle = await start('approved', { targetVersion: '1.3.0', approveBefore: ['core'] });
      await untilPhase(handle, 'waiting-for-approval');
      expect(standIn.calls(handle.workflowId)).not.toContain('redeployPod:core');
      await handle.signal(approveSignal);
      const report: UpgradeReport = await handle.result();
      expect(report.phase).toBe('completed');
      expect(report.steps.find((step) => step.id === 'approve:core')?.status).toBe('succeeded');
      await recordHistory(handle, 'approved');
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    'already-at-version: a target equal to the running version completes after pre-flight, changing nothing',
    async () => {
      const handle = await start('already-at-version', { targetVersion: '1.3.0' }, { runningVersion: '1.3.0' });
      const report: UpgradeReport = await handle.result();
      expect(report.phase).toBe('completed');
      expect(report.notes).toEqual(['Already at 1.3.0: nothing pulled, backed up, changed or redeployed']);
      // Pre-flight took the lock: it is released.
      expect(standIn.calls(handle.workflowId)).toEqual(['checkPreflight', 'releaseUpgradeLock']);
      await recordHistory(handle, 'already-at-version');
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    'approval-refused-early: an approve sent before the gate is refused, not kept for it; the gate then waits',
    async () => {
      const handle = await start(
        'approval-refused-early',
        { targetVersion: '1.3.0', approveBefore: ['core'] },
        {
          hold: 'redeployPod:database',
        },
      );
      await until(() => standIn.holding(handle.workflowId));
      await handle.signal(approveSignal);
      await handle.signal(approveSignal, { pod: 'temporal' });
      standIn.release(handle.workflowId);
      await untilPhase(handle, 'waiting-for-approval');
      await handle.signal(approveSignal, { pod: 'core' });
      const report: UpgradeReport = await handle.result();
      expect(report.phase).toBe('completed');
      expect(report.steps.find((step) => step.id === 'approve:core')).toMatchObject({
        status: 'succeeded',
        title: 'Wait for approval before core (up to 24 hours)',
      });
      expect(report.notes).toEqual([
        'Approval refused: no gate waits for an approval now; an approval is never kept for a later gate',
        'Approval for `temporal` refused: the upgrade has no gate before it (gates: `core`); approve a gate while the upgrade waits at it',
      ]);
      await recordHistory(handle, 'approval-refused-early');
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    'approval-timed-out: nobody approves within approvalTimeout, the upgrade rolls back',
    async () => {
      const handle = await start('approval-timed-out', {
        targetVersion: '1.3.0',
        approveBefore: ['core'],
        approvalTimeout: '2 seconds',
      });
      const failure = await upgradeFailure(handle.result());
      expect(failure.type).toBe(UpgradeFailureType.UpgradeRolledBack);
      expect(failure.report.cause).toMatchObject({ step: 'approve:core', message: 'nobody approved within 2 seconds' });
      await recordHistory(handle, 'approval-timed-out');
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    'worker restarted: a worker stopped inside the runtime redeploy, another finishes the upgrade',
    async () => {
      const queue = `${bench.taskQueue}-restart`;
      const first = await bench.createWorker(queue, { shutdownGraceTime: '100 ms' });
      const firstRun = first.run();
      const handle = await start('worker-restarted', { targetVersion: '1.3.0' }, { hold: 'redeployPod:core' }, queue);
      await until(() => standIn.holding(handle.workflowId));
      first.shutdown();
      await firstRun;
      const second = await bench.createWorker(queue);
      const report: UpgradeReport = await second.runUntil(handle.result());
      expect(report.phase).toBe('completed');
      expect(standIn.calls(handle.workflowId).filter((call) => call === 'redeployPod:core')).toHaveLength(2);
      await recordHistory(handle, 'worker-restarted');
    },
    SCENARIO_TIMEOUT_MS,
  );
});

async function untilPhase(handle: WorkflowHandle, phase: UpgradePhase): Promise<void> {
  await until(async () => (await handle.query(progressQuery)).phase === phase);
}

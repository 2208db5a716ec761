import type { WorkflowHandle } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { InvalidActivityInput } from '../../src/core/errors';
import { upgradeState } from '../../src/cli/upgrades';
import type { PodName } from '../../src/core/platform';
import { UpgradeFailureType, environmentOf, type UpgradeProgress, type UpgradeReport } from '../../src/core/upgrade';
import { upgradeFailure } from '../helpers/platform';
import { cancellationHandled } from '../helpers/histories';
import {
  startStandInServer,
  type StandInFailure,
  type StandInScenario,
  type StandInServer,
  until,
} from '../helpers/stand-in-activities';

/**
 * The real workflow on a real dev server, with stand-in activities: how the upgrade compensates, retries and releases
 * its lock, without a platform. Each scenario takes seconds (the first compensation retry waits 5 s).
 */
describe('compensation and lock release, on stand-in activities', () => {
  let bench: StandInServer;

  beforeAll(async () => {
    bench = await startStandInServer();
  }, 60_000);
  afterAll(async () => {
    await bench?.close();
  });

  /** The upgrade fails at its last step, so the rollback undoes every pod; the rollback's validation passes. */
  const failedValidation: StandInFailure = {
    activity: 'validatePlatform',
    type: 'ValidationFailed',
    message: 'Validation failed: ✗ SEAL Gateway (http://127.0.0.1:8089)',
  };
  /** An upgrade to 1.3.0 of a platform at 1.2.0 with pods `database` and `core`. */
  const start = (scenario: StandInScenario) =>
    bench.start(
      `aegis-upgrade-stand-in-${randomUUID().slice(0, 8)}`,
      { targetVersion: '1.3.0' },
      { deployedPods: ['database', 'core'], ...scenario },
    );

  async function scheduledActivity(handle: WorkflowHandle, type: string) {
    const { events } = await handle.fetchHistory();
    return events?.find((event) => event.activityTaskScheduledEventAttributes?.activityType?.name === type)
      ?.activityTaskScheduledEventAttributes;
  }

  test('a compensation is retried with backoff for hours, and `status` shows its attempt and last error', async () => {
    const handle = await start({
      fail: [
        failedValidation,
        {
          activity: 'restorePinnedImages',
          type: 'RegistryUnreachable',
          message: 'podman tag: registry 127.0.0.1:5000 unreachable',
          retryable: true,
        },
      ],
    });
    const seen: UpgradeProgress[] = [];

    const deadline = Date.now() + 30_000;
    for (;;) {
      const state = await upgradeState(bench.client, handle).catch(() => undefined);
      if (!state?.running) break;
      if ('progress' in state) seen.push(state.progress);
      if (Date.now() > deadline) throw new Error('the upgrade did not end within 30 s');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const options = await scheduledActivity(handle, 'restorePinnedImages');
    const failure = await upgradeFailure(handle.result());

    expect(failure.type).toBe(UpgradeFailureType.UpgradeRolledBack);
    expect(bench.standIn.calls(handle.workflowId).filter((call) => call === 'restorePinnedImages')).toHaveLength(2);
    const retrying = seen.flatMap((progress) => progress.rollback).find((step) => step.detail?.includes('attempt 2'));
    expect(retrying).toMatchObject({
      id: 'rollback:tag',
      status: 'running',
      detail: 'retrying restorePinnedImages, attempt 2; last error: podman tag: registry 127.0.0.1:5000 unreachable',
    });
    // What the server was asked to do: retry without a count, for 6 hours, backing off to 5 minutes between tries.
    expect(options?.scheduleToCloseTimeout?.seconds?.toString()).toBe(String(6 * 3600));
    expect(options?.heartbeatTimeout?.seconds?.toString()).toBe('10');
    expect(options?.retryPolicy).toMatchObject({
      maximumAttempts: 0,
      backoffCoefficient: 2,
      initialInterval: expect.objectContaining({ seconds: expect.anything() }),
      maximumInterval: expect.objectContaining({ seconds: expect.anything() }),
      nonRetryableErrorTypes: ['InvalidActivityInput', 'BackupInvalid'],
    });
    expect(options?.retryPolicy?.initialInterval?.seconds?.toString()).toBe('1');
    expect(options?.retryPolicy?.maximumInterval?.seconds?.toString()).toBe('300');
  }, 60_000);

  test('a compensation whose input can never succeed fails at once: RollbackFailed with the manual steps', async () => {
    const began = Date.now();
    const handle = await start({
      fail: [failedValidation],
      overrides: {
        restorePinnedImages: async () => {
          throw new InvalidActivityInput('pinTag', 'an image tag', 'x\ny');
        },
      },
    });

    const failure = await upgradeFailure(handle.result());

    expect(failure.type).toBe(UpgradeFailureType.RollbackFailed);
    expect(bench.standIn.calls(handle.workflowId).filter((call) => call === 'restorePinnedImages')).toHaveLength(1);
    expect(Date.now() - began).toBeLessThan(5_000);
    expect(failure.report.manualSteps).toContain("sed -i 's/^AEGIS_IMAGE_TAG=.*/AEGIS_IMAGE_TAG=1.2.0/' .env");
  }, 60_000);

  test('a lock that cannot be released after the upgrade completed: it completes, and the report says so', async () => {
    const handle = await start({
      overrides: {
        releaseUpgradeLock: async () => {
          throw new Error('EACCES: permission denied, unlink /srv/aegis-deploy/.aegis-upgrade.lock');
        },
      },
    });

    const report: UpgradeReport = await handle.result();

    expect(report.phase).toBe('completed');
    expect(report.rollback).toEqual([]);
    expect(bench.standIn.inputs(handle.workflowId, 'setImageTag')).toEqual([{ tag: '1.3.0' }]);
    expect(report.lockNotReleased).toContain('EACCES: permission denied');
    expect(report.lockNotReleased).toContain(`\`aegis-upgrade unlock --env ${environmentOf(handle.workflowId)} `);
  }, 60_000);

  /** A downgrade 1.3.0 → 1.2.0 naming the backup taken when the platform left 1.2.0. */
  const downgradePreflight = async () => ({
    profile: 'development',
    fromVersion: '1.3.0',
    toVersion: '1.2.0',
    pods: ['database', 'core'] as PodName[],
    images: [],
    checks: ['stand-in platform'],
    databaseBytes: 1024,
    alreadyAtTarget: false,
    restoreFrom: { location: '/var/backups/aegis/20261001T030000Z-1.2.0-to-1.3.0', files: [] },
  });

  test('a rollback restores the database beside putting the tag back, and the next step waits for both', async () => {
    // Only core redeployed: the plan is tag and restore side by side, then core, the writers, validation.
    const handle = await start({ deployedPods: ['core'], fail: [failedValidation], hold: 'restorePinnedImages' });
    const calls = () => bench.standIn.calls(handle.workflowId);
    await until(() => bench.standIn.holding(handle.workflowId));
    const rollbackFrom = calls().lastIndexOf('validatePlatform');

    await until(() => calls().includes('restoreDatabase'));
    // Once the workflow has seen the restore end, what it schedules next must wait for the held tag step.
    await until(async () => {
      const events = (await handle.fetchHistory()).events ?? [];
      const restored = events.findIndex(
        (event) =>
          event.activityTaskCompletedEventAttributes &&
          events.find(
            (scheduled) =>
              String(scheduled.eventId) === String(event.activityTaskCompletedEventAttributes?.scheduledEventId),
          )?.activityTaskScheduledEventAttributes?.activityType?.name === 'restoreDatabase',
      );
      return restored >= 0 && events.slice(restored + 1).some((event) => event.workflowTaskCompletedEventAttributes);
    });
    const whileTagHeld = calls().slice(rollbackFrom + 1);
    bench.standIn.release(handle.workflowId);
    const failure = await upgradeFailure(handle.result());

    expect(whileTagHeld.sort()).toEqual(['restoreDatabase', 'restorePinnedImages']);
    expect(failure.type).toBe(UpgradeFailureType.UpgradeRolledBack);
    expect(failure.report.rollback.map((step) => [step.id, step.status])).toEqual([
      ['rollback:tag', 'succeeded'],
      ['rollback:database', 'succeeded'],
      ['rollback:redeploy:core', 'succeeded'],
      ['rollback:host-cli', 'succeeded'],
      ['rollback:writers', 'succeeded'],
      ['rollback:validate', 'succeeded'],
    ]);
  });

  // The held activity does not see the cancellation (its commands run on): the rollback must wait for it to end.
  test.each([
    ['the restore of a downgrade (restore-from)', 'restoreDatabase', { targetVersion: '1.2.0', restoreFrom: 'x' }],
    ['the final dump, which stops the writers', 'backUpFinal', { targetVersion: '1.3.0' }],
  ])(
    'an abort during %s rolls back only once it ended',
    async (_, activity, request) => {
      const workflowId = `aegis-upgrade-stand-in-${randomUUID().slice(0, 8)}`;
      const handle = await bench.start(workflowId, request, {
        deployedPods: ['database', 'core'],
        hold: activity,
        holdThroughCancel: true,
        ...(activity === 'restoreDatabase' && { overrides: { checkPreflight: downgradePreflight } }),
      });
      await until(() => bench.standIn.holding(workflowId));
      const calledBefore = bench.standIn.calls(workflowId);

      await handle.cancel();
      const scheduledWhileHeld = await cancellationHandled(handle);
      const calledWhileHeld = bench.standIn.calls(workflowId).slice(calledBefore.length);
      bench.standIn.release(workflowId);
      const failure = await upgradeFailure(handle.result());

      expect(calledWhileHeld).toEqual([]);
      expect(scheduledWhileHeld).toEqual([]);
      expect(failure.type).toBe(UpgradeFailureType.UpgradeRolledBack);
      expect(bench.standIn.calls(workflowId).slice(calledBefore.length)).toContain('releaseUpgradeLock');
    },
    30_000,
  );
});

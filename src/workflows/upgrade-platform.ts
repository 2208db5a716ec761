import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  isCancellation,
  patched,
  proxyActivities,
  setHandler,
  upsertMemo,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { UpgradeActivities } from '../activities';
import { COMPENSATION_NON_RETRYABLE_ERRORS, NON_RETRYABLE_ERRORS } from '../activities/errors';
import type { PreflightReport } from '../activities/preflight';
import type { PodName } from '../platform';
import {
  UpgradeFailureType,
  abortReasonSignal,
  approveSignal,
  environmentOf,
  progressQuery,
  type UpgradeMemo,
  type UpgradePhase,
  type BackupRecord,
  type UpgradeCause,
  type UpgradeOutcome,
  type UpgradeReport,
  type UpgradeRequest,
} from '../upgrade';
import { parseUpgradeRequest, requestedVersion, type ParsedUpgradeRequest } from '../upgrade-request';
import { ApprovalGates } from './approvals';
import { Patch } from './patches';
import { ProgressLog, errorMessage } from './progress';
import { upgradeLockOwner } from './lock';
import { lockNotReleased, manualRollbackSteps, planRollback, rollbackPinTag, type UpgradeChanges } from './rollback';

const nonRetryableErrorTypes = [...NON_RETRYABLE_ERRORS];

/** Quick edits and lookups: well under a second each, so a worker that died in one is replaced within 30 s. */
const QUICK: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 3, nonRetryableErrorTypes },
};
/**
 * Pre-flight asks the registry and the database: it may take a while, so it heartbeats. It takes the lock last: a
 * cancel waits for it to end, so releasing the lock comes after taking it.
 */
const PREFLIGHT: ActivityOptions = {
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '20 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { maximumAttempts: 3, nonRetryableErrorTypes },
};
/** Pulls and dumps: long, heartbeating, so a dead worker is noticed within 20 s. */
const TRANSFER: ActivityOptions = {
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '20 seconds',
  retry: { maximumAttempts: 3, nonRetryableErrorTypes },
};
/**
 * Redeploys and bounded waits. A redeploy is never abandoned half-way: a cancellation waits for it to end
 * before the rollback touches the same pod.
 */
const REDEPLOY: ActivityOptions = {
  startToCloseTimeout: '20 minutes',
  heartbeatTimeout: '15 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { maximumAttempts: 3, nonRetryableErrorTypes },
};
/**
 * Compensations: idempotent, so retried with backoff on every error a retry can fix (a registry or database outage,
 * a dead worker), each for up to 6 hours: an outage during a night window outlasts minutes, and RollbackFailed should
 * reach the morning shift with the manual steps, not wait for ever. Retries are 5 minutes apart at most, so a fixed
 * outage is noticed soon; the heartbeat still notices a dead worker within 20 s.
 */
const COMPENSATION: ActivityOptions = {
  scheduleToCloseTimeout: '6 hours',
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '20 seconds',
  retry: {
    initialInterval: '5 seconds',
    backoffCoefficient: 2,
    maximumInterval: '5 minutes',
    nonRetryableErrorTypes: [...COMPENSATION_NON_RETRYABLE_ERRORS],
  },
};

const quick = proxyActivities<UpgradeActivities>(QUICK);
const preflightCheck = proxyActivities<UpgradeActivities>(PREFLIGHT);
const transfer = proxyActivities<UpgradeActivities>(TRANSFER);
const redeploy = proxyActivities<UpgradeActivities>(REDEPLOY);
const compensate = proxyActivities<UpgradeActivities>(COMPENSATION);

/**
 * Upgrades the AEGIS platform to `request.targetVersion`, as the operator guide does, and rolls back on failure.
 * The request arrives as JSON from any client: it is parsed before anything is scheduled, and a bad one is refused
 * as a failed upgrade (never a plain error, which would fail the workflow task and retry it for ever).
 */
export async function upgradePlatform(input: UpgradeRequest): Promise<UpgradeReport> {
  const { workflowId, startTime } = workflowInfo();
  const lockOwner = upgradeLockOwner();
  const progress = new ProgressLog(requestedVersion(input));
  const report: UpgradeOutcome = { images: [], migrationsApplied: [], databaseRestored: false };
  const fullReport = (): UpgradeReport => ({ ...progress.snapshot(), ...report });
  const gates = new ApprovalGates((note) => progress.notes.push(note));
  setHandler(progressQuery, () => progress.snapshot());
  setHandler(approveSignal, (approval) => gates.receive(approval));
  let abortReason: string | undefined;
  setHandler(abortReasonSignal, (reason) => void (abortReason = reason));

  const announce = (phase: UpgradePhase) => {
    progress.phase = phase;
    const memo: UpgradeMemo = {
      environment: environmentOf(workflowId),
      fromVersion: progress.fromVersion,
      toVersion: progress.toVersion,
      outcome: phase,
    };
    upsertMemo({ ...memo });
  };
  announce('preflight');

  progress.plan([{ id: 'preflight', title: 'Pre-flight checks' }]);
  // A lock that cannot be released changes nothing of the upgrade's outcome: it stays, and the report says so.
  const releaseLock = () =>
    CancellationScope.nonCancellable(() => quick.releaseUpgradeLock({ owner: lockOwner })).catch(
      (error: unknown) =>
        void (report.lockNotReleased = lockNotReleased(errorMessage(error), environmentOf(workflowId))),
    );
  let lockRequested = false;
  let accepted: { request: ParsedUpgradeRequest; preflight: PreflightReport };
  try {
    accepted = await progress.run(
      'preflight',
      async () => {
        const request = parseUpgradeRequest(input);
        lockRequested = !request.dryRun;
        const preflight = await preflightCheck.checkPreflight({ request, lockOwner, readOnly: request.dryRun });
        // A cancel that came while it ran ends the upgrade here, nothing changed: the lock it took is released below.
        if (CancellationScope.current().consideredCancelled) {
          throw new CancelledFailure('the upgrade was cancelled during pre-flight; nothing was changed');
        }
        return { request, preflight };
      },
      ({ preflight }) => preflight.checks.join('; '),
    );
  } catch (error) {
    announce('refused');
    // A pre-flight that failed or was cancelled after taking the lock must not leave it behind.
    if (lockRequested) await releaseLock();
    const unreleased = report.lockNotReleased ? `; ${report.lockNotReleased}` : '';
    throw ApplicationFailure.create({
      type: UpgradeFailureType.PreflightFailed,
      message: `Pre-flight refused the upgrade to ${progress.toVersion}: ${errorMessage(error)}${unreleased}`,
      nonRetryable: true,
      details: [fullReport()],
    });
  }

  const { request, preflight } = accepted;
  const { fromVersion, toVersion, pods } = preflight;
  progress.fromVersion = fromVersion;
  const { strategy } = request;
  gates.open(pods.filter((pod) => request.approveBefore.includes(pod)));
  if (request.dryRun) {
    report.plan = {
      pods,
      images: preflight.images,
      checks: preflight.checks,
      backupEstimateBytes: preflight.databaseBytes,
      restorePossible: pods.includes('core') && request.restoreDatabase !== 'never',
      ...(request.approveBefore.length > 0 && { approvalTimeout: request.approvalTimeout }),
    };
    announce('planned');
    return fullReport();
  }
  if (preflight.alreadyAtTarget && patched(Patch.alreadyAtVersion)) {
    progress.notes.push(`Already at ${toVersion}: nothing pulled, backed up, changed or redeployed`);
    announce('completed');
    await releaseLock();
    return fullReport();
  }
  announce('upgrading');
  progress.plan(plannedSteps(pods, request, preflight.restoreFrom));
  const changes: UpgradeChanges = {
    previousTag: fromVersion,
    profile: preflight.profile,
    pinTag: rollbackPinTag(lockOwner),
    tagChanged: false,
    redeployedPods: [],
    fullRedeploy: false,
  };

  /** Holds the upgrade before `pod` until its `approve` signal; past `approvalTimeout`, it fails and rolls back. */
  const awaitApproval = async (pod: PodName) => {
    announce('waiting-for-approval');
    await progress.run(
      `approve:${pod}`,
      async () => {
        // Upgrades started before these changes replay them as they ran (docs/versioning.md).
        const timeout = patched(Patch.defaultApprovalTimeout)
          ? request.approvalTimeout
          : ((input as UpgradeRequest).approvalTimeout ?? undefined);
        if (!(await gates.await(pod, timeout, patched(Patch.approvalsPerGate)))) {
          throw ApplicationFailure.nonRetryable(`nobody approved within ${timeout}`, 'ApprovalTimedOut');
        }
      },
      () => 'approved',
    );
    announce('upgrading');
  };

  try {
    const backupId = `${startTime.toISOString().replace(/[-:]|\.\d+/g, '')}-${fromVersion}-to-${toVersion}`;
    const [pulled, backup] = await settleAll([
      progress.run(
        'pull-images',
        async () => {
          changes.pinnedImages = await transfer.pinRunningImages({ currentTag: fromVersion, pinTag: changes.pinTag });
          return transfer.pullImages({ tag: toVersion });
        },
        (images) => images.map((image) => `${image.image}@${image.digest.slice(0, 19)}`).join(', '),
      ),
      progress.run(
        'backup',
        () => transfer.backUpDatabases({ backupId, fromVersion, toVersion }),
        (record) => `${record.location} (${record.files.length} files verified)`,
      ),
    ]);
    report.images = pulled;
    report.backup = backup;
    changes.backup = backup;
    const migrationsBefore = (await quick.snapshotMigrations()).map((row) => row.version);

    changes.tagChanged = true;
    await progress.run(
      'set-tag',
      () => quick.setImageTag({ tag: toVersion }),
      (previous) => `${previous} → ${toVersion}`,
    );

    // The runtime's readiness is judged after its migrations: a failed migration is named as such, not as a dead pod.
    const checkRuntime = async (since: string) => {
      report.migrationsApplied = await progress.run(
        'migrations',
        async () => {
          const applied = await redeploy.awaitMigrations({ since, before: migrationsBefore });
          // The new runtime is judged: the writers stopped for the final dump may write again.
          await quick.resumeWriters();
          await redeploy.awaitPodReady({ pod: 'core', tag: toVersion });
          return applied;
        },
        (applied) => (applied.length > 0 ? `applied ${applied.join(', ')}` : 'database is up to date'),
      );
    };
    const otherPods = pods.filter((pod) => pod !== 'core');
    /** Just before the new runtime migrates: writers stopped, the migrated databases dumped as they are now. */
    const takeFinalBackup = async () => {
      changes.writersStopped = true;
      const record = await progress.run(
        'final-backup',
        () => transfer.backUpFinal({ backup }),
        (final) => `writers stopped; ${final.final?.files.map((file) => file.name).join(', ')} verified`,
      );
      report.backup = record;
      changes.backup = record;
    };
    // A downgrade's database: the backup taken when the platform last left the target version.
    const restoreForDowngrade = async () => {
      const backup = preflight.restoreFrom;
      if (!backup) return;
      await progress.run(
        'restore-from',
        () => transfer.restoreDatabase({ backup, policy: 'always' }),
        (outcome) => outcome.reason,
      );
    };

    if (strategy === 'full') {
      if (pods.includes('core')) await takeFinalBackup();
      changes.fullRedeploy = true;
      await restoreForDowngrade();
      const started = new Date().toISOString();
      await progress.run('deploy', async () => {
        await redeploy.redeployPlatform();
        for (const pod of otherPods) await redeploy.awaitPodReady({ pod, tag: toVersion });
      });
      if (pods.includes('core')) await checkRuntime(started);
    } else {
      for (const pod of pods) {
        if (request.approveBefore.includes(pod)) await awaitApproval(pod);
        if (pod === 'core') await takeFinalBackup();
        changes.redeployedPods.push(pod);
        if (pod === 'core') await restoreForDowngrade();
        const notBefore = new Date().toISOString();
        const redeployed = await progress.run(
          `redeploy:${pod}`,
          async () => {
            const result = await redeploy.redeployPod({ pod, tag: toVersion, notBefore });
            if (pod !== 'core') await redeploy.awaitPodReady({ pod, tag: toVersion });
            return result;
          },
          (result) => (result.skipped ? 'already on the target since this step began' : undefined),
        );
        if (pod === 'core') await checkRuntime(redeployed.startedAt);
      }
    }
    await progress.run('validate', () => redeploy.validatePlatform());
    announce('completed');
    await releaseLock();
    return fullReport();
  } catch (error) {
    report.cause = describeCause(error, progress, abortReason);
    const rolledBack = await CancellationScope.nonCancellable(() => rollBack(changes, request, progress, report));
    announce(progress.phase);
    if (rolledBack) await releaseLock();
    throw ApplicationFailure.create({
      type: rolledBack ? UpgradeFailureType.UpgradeRolledBack : UpgradeFailureType.RollbackFailed,
      message: rolledBack
        ? `Upgrade ${fromVersion} → ${toVersion} rolled back: ${report.cause.step} failed: ${report.cause.message}`
        : `Upgrade ${fromVersion} → ${toVersion} failed and so did its rollback; finish it by hand: ${report.manualSteps?.join(' && ')}`,
      nonRetryable: true,
      details: [fullReport()],
    });
  }
}

const FINAL_BACKUP_STEP = { id: 'final-backup', title: 'Stop the database writers and dump the migrated databases' };

/** Every step the upgrade plans, so the `progress` query shows what comes next from the start. */
function plannedSteps(pods: PodName[], request: ParsedUpgradeRequest, restoreFrom?: BackupRecord) {
  const { strategy, approveBefore, approvalTimeout } = request;
  const restore = restoreFrom && {
    id: 'restore-from',
    title: `Restore the aegis database from ${restoreFrom.location} (downgrade)`,
  };
  const steps = [
    { id: 'pull-images', title: 'Pin the running images and pull the new ones' },
    { id: 'backup', title: 'Back up the databases' },
    { id: 'set-tag', title: 'Set AEGIS_IMAGE_TAG in .env' },
  ];
  if (strategy === 'full') {
    if (pods.includes('core')) steps.push(FINAL_BACKUP_STEP);
    if (restore) steps.push(restore);
    steps.push({ id: 'deploy', title: 'Tear down, deploy the profile, bootstrap secrets' });
    if (pods.includes('core')) steps.push({ id: 'migrations', title: 'Check the runtime migrations and readiness' });
  } else {
    for (const pod of pods) {
      if (approveBefore.includes(pod)) {
        steps.push({ id: `approve:${pod}`, title: `Wait for approval before ${pod} (up to ${approvalTimeout})` });
      }
      if (pod === 'core') steps.push(FINAL_BACKUP_STEP);
      if (pod === 'core' && restore) steps.push(restore);
      steps.push({ id: `redeploy:${pod}`, title: `Redeploy ${pod}` });
      if (pod === 'core') steps.push({ id: 'migrations', title: 'Check the runtime migrations and readiness' });
    }
  }
  steps.push({ id: 'validate', title: 'Validate the platform' });
  return steps;
}

/** Runs the compensation; on failure records what is left and how to finish it by hand. True when all was undone. */
async function rollBack(
  changes: UpgradeChanges,
  request: ParsedUpgradeRequest,
  progress: ProgressLog,
  report: UpgradeOutcome,
): Promise<boolean> {
  progress.phase = 'rolling-back';
  const steps = planRollback(changes, request.restoreDatabase);
  progress.plan(steps, true);
  const done: string[] = [];
  let tag = changes.previousTag;
  try {
    for (const step of steps) {
      switch (step.kind) {
        case 'restore-tag':
          await progress.run(
            step.id,
            async () => {
              tag = await compensate.restorePinnedImages({ previousTag: changes.previousTag, pinTag: changes.pinTag });
              await compensate.setImageTag({ tag });
            },
            () => `AEGIS_IMAGE_TAG=${tag}`,
          );
          break;
        case 'restore-database': {
          const backup = changes.backup;
          if (!backup) break;
          const result = await progress.run(
            step.id,
            () => compensate.restoreDatabase({ backup, policy: request.restoreDatabase }),
            (outcome) => outcome.reason,
          );
          report.databaseRestored = result.restored;
          report.databaseRestore = result.restore;
          break;
        }
        case 'redeploy':
          await progress.run(step.id, async () => {
            const notBefore = new Date().toISOString();
            await compensate.redeployPod({ pod: step.pod, tag, notBefore });
            return compensate.awaitPodReady({ pod: step.pod, tag });
          });
          break;
        case 'redeploy-platform':
          await progress.run(step.id, () => compensate.redeployPlatform());
          break;
        case 'resume-writers':
          await progress.run(
            step.id,
            () => compensate.resumeWriters(),
            (started) => started.join(', '),
          );
          break;
        case 'validate':
          await progress.run(step.id, () => compensate.validatePlatform());
          break;
      }
      done.push(step.id);
    }
    progress.markRolledBack([
      'set-tag',
      ...changes.redeployedPods.map((pod) => `redeploy:${pod}`),
      'restore-from',
      'deploy',
      'migrations',
    ]);
    progress.phase = 'rolled-back';
    return true;
  } catch (error) {
    progress.phase = 'rollback-failed';
    report.manualSteps = manualRollbackSteps(
      changes,
      done,
      request.restoreDatabase,
      environmentOf(workflowInfo().workflowId),
    );
    report.cause = {
      ...(report.cause as UpgradeCause),
      message: `${report.cause?.message}; rollback: ${errorMessage(error)}`,
    };
    return false;
  }
}

function describeCause(error: unknown, progress: ProgressLog, abortReason?: string): UpgradeCause {
  const step = progress.firstFailure?.id ?? progress.current()?.id ?? 'unknown';
  const pod = /^(?:redeploy|approve):(.+)$/.exec(step)?.[1] as PodName | undefined;
  if (isCancellation(error)) {
    return { step, pod, message: `the upgrade was cancelled by an operator${abortReason ? `: ${abortReason}` : ''}` };
  }
  return { step, pod, message: errorMessage(error) };
}

/** Like Promise.all, but waits for every branch before failing: no activity keeps running behind a rollback. */
async function settleAll<T extends readonly unknown[]>(work: [...{ [K in keyof T]: Promise<T[K]> }]): Promise<T> {
  const results = await Promise.allSettled(work);
  const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failure) throw failure.reason;
  return results.map((result) => (result as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

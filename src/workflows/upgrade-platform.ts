import {
  ApplicationFailure,
  CancellationScope,
  getExternalWorkflowHandle,
  isCancellation,
  patched,
  workflowInfo,
} from '@temporalio/workflow';
import { upgradeStartedSignal } from '../fleet';
import type { PreflightReport } from '../activities/preflight';
import { ROLLING_ORDER, type PodName } from '../platform';
import {
  UpgradeFailureType,
  environmentOf,
  type UpgradeCause,
  type UpgradeOutcome,
  type UpgradeReport,
  type UpgradeRequest,
} from '../upgrade';
import type { ParsedUpgradeRequest } from '../upgrade-request';
import { compensate, quick } from './activity-options';
import { Patch } from './patches';
import { errorMessage, type ProgressLog } from './progress';
import { manualRollbackSteps, planRollback, type UpgradeChanges } from './rollback';
import { logRollbackPlan } from './telemetry';
import {
  UpgradeRun,
  completeAtTarget,
  noChangesYet,
  pullAndBackUp,
  reportPlan,
  runPreflight,
  skipUnchangedPods,
  upgradeFull,
  upgradeRolling,
  validateAndComplete,
  type Upgrade,
} from './upgrade-steps';

/**
 * Upgrades the AEGIS platform to `request.targetVersion`, as the operator guide does, and rolls back on failure.
 * The request arrives as JSON from any client: it is parsed before anything is scheduled, and a bad one is refused
 * as a failed upgrade (never a plain error, which would fail the workflow task and retry it for ever).
 */
export async function upgradePlatform(input: UpgradeRequest): Promise<UpgradeReport> {
  const run = new UpgradeRun(input);
  await tellFleetStarted();
  return run.notifier.settleAfter(runUpgrade(run));
}

/** A fleet's upgrade tells the fleet that a worker took it: the fleet gives each a deadline to start. */
async function tellFleetStarted(): Promise<void> {
  const { parent, workflowId } = workflowInfo();
  if (!parent || !patched(Patch.tellFleetStarted)) return;
  try {
    await getExternalWorkflowHandle(parent.workflowId, parent.runId).signal(upgradeStartedSignal, workflowId);
  } catch (error) {
    // The fleet ended (or was terminated) meanwhile: the upgrade runs on its own, as an abandoned child does.
    if (isCancellation(error)) throw error;
  }
}

async function runUpgrade(run: UpgradeRun): Promise<UpgradeReport> {
  const { progress } = run;
  run.announce('preflight');

  // Step 1: pre-flight. A refusal fails the upgrade here, nothing changed.
  const accepted = await runPreflight(run);
  const { request, preflight } = accepted;
  const { fromVersion, toVersion, pods } = preflight;
  progress.fromVersion = fromVersion;
  const gates = pods.filter((pod) => request.approveBefore.includes(pod));
  run.gates.open(gates, gates.length > 0 && patched(Patch.approvalsReleaseTheGateWaiting));
  if (request.dryRun) return reportPlan(run, accepted);
  if (preflight.alreadyAtTarget && patched(Patch.alreadyAtVersion)) return completeAtTarget(run);

  run.announce('upgrading');
  progress.plan(plannedSteps(preflight, request));
  skipUnchangedPods(run, preflight);
  const upgrade: Upgrade = { run, request, preflight, changes: noChangesYet(run, preflight) };
  const { changes } = upgrade;
  try {
    // Step 2: pull the new images and back up the databases.
    const backup = await pullAndBackUp(upgrade);
    const migrationsBefore = (await quick.snapshotMigrations()).map((row) => row.version);

    // Step 3: set the tag, redeploy in the guide's order, check the runtime's migrations.
    changes.tagChanged = true;
    await progress.run(
      'set-tag',
      () => quick.setImageTag({ tag: toVersion }),
      (previous) => `${previous} → ${toVersion}`,
    );
    if (request.strategy === 'full') await upgradeFull(upgrade, { backup, migrationsBefore });
    else await upgradeRolling(upgrade, { backup, migrationsBefore });

    // Step 4: validate.
    return await validateAndComplete(run);
  } catch (error) {
    throw await rollBackAndFail(upgrade, error);
  }
}

/**
 * The failure path: undoes what the upgrade changed, keeps the lock when that failed (the deployment needs a hand),
 * and answers the failure the upgrade ends with, its report attached.
 */
async function rollBackAndFail(
  { run, request, preflight, changes }: Upgrade,
  error: unknown,
): Promise<ApplicationFailure> {
  const { progress, report } = run;
  const { fromVersion, toVersion } = preflight;
  report.cause = describeCause(error, progress, run.abortReason);
  if (patched(Patch.searchAttributes)) run.announce('rolling-back');
  const rolledBack = await CancellationScope.nonCancellable(() => rollBack(changes, request, progress, report));
  run.announce(progress.phase);
  if (rolledBack) await run.releaseLock();
  return ApplicationFailure.create({
    type: rolledBack ? UpgradeFailureType.UpgradeRolledBack : UpgradeFailureType.RollbackFailed,
    message: rolledBack
      ? `Upgrade ${fromVersion} → ${toVersion} rolled back: ${report.cause.step} failed: ${report.cause.message}`
      : `Upgrade ${fromVersion} → ${toVersion} failed and so did its rollback; finish it by hand: ${report.manualSteps?.join(' && ')}`,
    nonRetryable: true,
    details: [run.fullReport()],
  });
}

const FINAL_BACKUP_STEP = { id: 'final-backup', title: 'Stop the database writers and dump the migrated databases' };

/** Every step the upgrade plans, so the `progress` query shows what comes next from the start. */
function plannedSteps({ pods, unchangedPods = [], restoreFrom }: PreflightReport, request: ParsedUpgradeRequest) {
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
    // Pods the new tag leaves as they are show where the guide would redeploy them: skipped.
    const listed =
      unchangedPods.length > 0 ? ROLLING_ORDER.filter((pod) => [...pods, ...unchangedPods].includes(pod)) : pods;
    for (const pod of listed) {
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
  logRollbackPlan(steps);
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

import { getExternalWorkflowHandle, isCancellation, patched, workflowInfo } from '@temporalio/workflow';
import { upgradeStartedSignal } from '../core/fleet';
import { ROLLING_ORDER, type PodName } from '../core/platform';
import { environmentOf, type UpgradeReport, type UpgradeRequest } from '../core/upgrade';
import { compensate, quick } from './activity-options';
import { Patch } from './patches';
import { manualRollbackSteps, planRollback, type RollbackStep } from './rollback';
import { upgradeOrRollBack, type PlannedRollback, type PlannedStep } from './runner';
import { logRollbackPlan } from './telemetry';
import {
  UpgradeRun,
  completeAtTarget,
  noChangesYet,
  pullAndBackUp,
  redeploySteps,
  reportPlan,
  runPreflight,
  skipUnchangedPods,
  upgradeFull,
  upgradeRolling,
  validateAndComplete,
  type AcceptedRequest,
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

async function runUpgrade(run: UpgradeRun<UpgradeRequest>): Promise<UpgradeReport> {
  const { progress } = run;
  run.announce('preflight');

  // Step 1: pre-flight. A refusal fails the upgrade here, nothing changed.
  const accepted = await runPreflight(run);
  const { request, preflight } = accepted;
  const { fromVersion, toVersion, pods } = preflight;
  progress.fromVersion = fromVersion;
  progress.fromDigest = preflight.fromDigest;
  const gates = pods.filter((pod) => request.approveBefore.includes(pod));
  run.gates.open(gates, gates.length > 0 && patched(Patch.approvalsReleaseTheGateWaiting));
  if (request.dryRun) return reportPlan(run, accepted);
  if (preflight.alreadyAtTarget && patched(Patch.alreadyAtVersion)) return completeAtTarget(run);

  const upgrade: Upgrade = { run, request, preflight, changes: noChangesYet(run, preflight) };
  const { changes } = upgrade;
  return upgradeOrRollBack(run, {
    steps: plannedSteps(accepted),
    async runSteps() {
      skipUnchangedPods(run, preflight);
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
      return validateAndComplete(run);
    },
    planRollback: () => planPlatformRollback(upgrade),
    podOf: (step) => /^(?:redeploy|approve):(.+)$/.exec(step)?.[1] as PodName | undefined,
  });
}

/** Every step the upgrade plans, so the `progress` query shows what comes next from the start. */
function plannedSteps(accepted: AcceptedRequest): PlannedStep[] {
  const { request, preflight } = accepted;
  const { pods, unchangedPods = [] } = preflight;
  // Pods the new tag leaves as they are show where the guide would redeploy them: skipped.
  const listed =
    unchangedPods.length > 0 ? ROLLING_ORDER.filter((pod) => [...pods, ...unchangedPods].includes(pod)) : pods;
  const targets = request.strategy === 'full' ? ['profile' as const] : listed;
  return [
    { id: 'pull-images', title: 'Pin the running images and pull the new ones' },
    { id: 'backup', title: 'Back up the databases' },
    { id: 'set-tag', title: 'Set AEGIS_IMAGE_TAG in .env' },
    ...targets.flatMap((target) => redeploySteps(target, accepted).map(({ id, title }) => ({ id, title }))),
    { id: 'validate', title: 'Validate the platform' },
  ];
}

/**
 * The compensation of what the upgrade changed (rollback.ts plans it): the previous tag, the database restored by its
 * policy, the touched pods redeployed on the previous images, the host's binary put back, the writers started again,
 * validation.
 */
function planPlatformRollback({ run, request, changes }: Upgrade): PlannedRollback<RollbackStep> {
  const { progress, report } = run;
  const steps = planRollback(changes, request.restoreDatabase);
  logRollbackPlan(steps);
  let tag = changes.previousTag;
  return {
    steps,
    async undo(step) {
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
          await progress.run(
            step.id,
            () => compensate.redeployPlatform(),
            (secrets) => secrets || undefined,
          );
          break;
        case 'restore-host-cli': {
          const kept = changes.hostCli;
          if (!kept) break;
          report.hostCli = await progress.run(
            step.id,
            () => compensate.restoreHostCli({ kept }),
            (result) => `${result.binary}; ${result.daemon}`,
          );
          break;
        }
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
    },
    undone: () => [
      'set-tag',
      ...changes.redeployedPods.map((pod) => `redeploy:${pod}`),
      'restore-from',
      'deploy',
      'migrations',
      'host-cli',
    ],
    manualSteps: (done) => manualRollbackSteps(changes, done, request.restoreDatabase, environmentOf(run.workflowId)),
  };
}

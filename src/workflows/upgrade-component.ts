import { ApplicationFailure, CancellationScope, isCancellation } from '@temporalio/workflow';
import type { ComponentPreflight } from '../activities/component-preflight';
import { parseComponentRequest, type ComponentUpgradeRequest } from '../components';
import { TEMPORAL_CONTAINER, DATABASE_CONTAINER } from '../platform';
import { UpgradeFailureType, type UpgradeReport, type UpgradeRequest } from '../upgrade';
import { compensate, preflightCheck } from './activity-options';
import {
  manualComponentRollbackSteps,
  noComponentChanges,
  planComponentRollback,
  type ComponentChanges,
} from './component-rollback';
import { STRATEGIES, type ComponentUpgrade } from './component-steps';
import { errorMessage } from './progress';
import { UpgradeRun, backupIdOf, checkBeforeChanging, completeAtTarget, validateAndComplete } from './upgrade-steps';

/**
 * Upgrades one of the platform's own components (PostgreSQL, Temporal) with the AEGIS upgrade's guarantees: checked
 * and locked before anything changes, backed up, verified after, rolled back by itself. It runs under the
 * environment's upgrade ID, so `status`, `history` and `abort` see it as they see an AEGIS upgrade.
 */
export async function upgradeComponent(input: ComponentUpgradeRequest): Promise<UpgradeReport> {
  // The run's report and queries are the AEGIS upgrade's; its target names the component (`postgres 16`).
  const run = new UpgradeRun(input as unknown as UpgradeRequest, componentTarget(input));
  return run.notifier.settleAfter(runComponentUpgrade(run));
}

async function runComponentUpgrade(run: UpgradeRun): Promise<UpgradeReport> {
  const { progress } = run;
  run.announce('preflight');

  // Step 1: pre-flight. A refusal fails the upgrade here, nothing changed.
  const { request, preflight } = await checkBeforeChanging(
    run,
    async (lockRequested) => {
      const request = parseComponentRequest(run.input);
      lockRequested(!request.dryRun);
      const preflight = await preflightCheck.checkComponentPreflight({
        request,
        lockOwner: run.lockOwner,
        readOnly: request.dryRun,
      });
      return { request, preflight };
    },
    ({ preflight }) => preflight.checks.join('; '),
  );
  const { plan } = preflight;
  progress.fromVersion = `${plan.component} ${plan.fromVersion}`;
  if (plan.override) progress.notes.push(plan.override);
  if (request.dryRun) return reportComponentPlan(run, preflight);
  if (plan.alreadyAtTarget) return completeAtTarget(run);

  run.announce('upgrading');
  const strategy = STRATEGIES[plan.strategy];
  progress.plan([...strategy.steps(preflight), { id: 'validate', title: 'Validate the platform' }]);
  const backupId = backupIdOf(run, `${plan.component}-${plan.fromVersion}`, plan.toVersion);
  const upgrade: ComponentUpgrade = { run, preflight, changes: noComponentChanges(preflight), backupId };
  try {
    // Steps 2–3: the strategy's backup, change and verification.
    await strategy.upgrade(upgrade);
    // Step 4: validate.
    return await validateAndComplete(run);
  } catch (error) {
    throw await rollBackAndFail(upgrade, error);
  }
}

function componentTarget(input: unknown): string {
  const { component, targetVersion } = (input ?? {}) as Partial<ComponentUpgradeRequest>;
  return typeof component === 'string' && typeof targetVersion === 'string'
    ? `${component} ${targetVersion}`.slice(0, 64)
    : '?';
}

/** A dry run's answer: what the upgrade would change, from pre-flight's read-only checks; nothing was locked. */
function reportComponentPlan(run: UpgradeRun, preflight: ComponentPreflight): UpgradeReport {
  const { plan, currentTag, targetTag, checks } = preflight;
  run.report.plan = {
    pods: [plan.component === 'postgres' ? 'database' : 'temporal'],
    images: [
      {
        container: plan.component === 'postgres' ? DATABASE_CONTAINER : TEMPORAL_CONTAINER,
        current: currentTag,
        target: targetTag,
      },
    ],
    checks: [...checks, `Strategy: ${plan.strategy}`],
    backupEstimateBytes: 0,
    restorePossible: plan.strategy !== 'postgres-minor',
  };
  run.announce('planned');
  return run.fullReport();
}

/** The failure path: undoes what the upgrade changed, and answers the failure it ends with, its report attached. */
async function rollBackAndFail({ run, changes }: ComponentUpgrade, error: unknown): Promise<ApplicationFailure> {
  const { progress, report } = run;
  const step = progress.firstFailure?.id ?? progress.current()?.id ?? 'unknown';
  const message = isCancellation(error)
    ? `the upgrade was cancelled by an operator${run.abortReason ? `: ${run.abortReason}` : ''}`
    : errorMessage(error);
  report.cause = { step, message };
  run.announce('rolling-back');
  const rolledBack = await CancellationScope.nonCancellable(() => rollBack(run, changes));
  run.announce(progress.phase);
  if (rolledBack) await run.releaseLock();
  const versions = `${progress.fromVersion} → ${progress.toVersion}`;
  return ApplicationFailure.create({
    type: rolledBack ? UpgradeFailureType.UpgradeRolledBack : UpgradeFailureType.RollbackFailed,
    message: rolledBack
      ? `Upgrade ${versions} rolled back: ${step} failed: ${message}`
      : `Upgrade ${versions} failed and so did its rollback; finish it by hand: ${report.manualSteps?.join(' && ')}`,
    nonRetryable: true,
    details: [run.fullReport()],
  });
}

/** Runs the compensation; on failure records what is left and how to finish it by hand. True when all was undone. */
async function rollBack(run: UpgradeRun, changes: ComponentChanges): Promise<boolean> {
  const { progress, report } = run;
  progress.phase = 'rolling-back';
  const steps = planComponentRollback(changes);
  progress.plan(steps, true);
  const done: string[] = [];
  try {
    for (const step of steps) {
      await progress.run(step.id, () => runRollbackStep(step.kind, changes));
      done.push(step.id);
      if (step.kind === 'restore-temporal-databases' && changes.temporalBackup) report.databaseRestored = true;
    }
    progress.markRolledBack(['set-tag', 'set-definition', `redeploy:${changes.pod}`, 'restore', 'start-clients']);
    progress.phase = 'rolled-back';
    return true;
  } catch (error) {
    progress.phase = 'rollback-failed';
    report.manualSteps = manualComponentRollbackSteps(changes, done);
    report.cause = {
      step: report.cause?.step ?? 'unknown',
      message: `${report.cause?.message}; rollback: ${errorMessage(error)}`,
    };
    return false;
  }
}

async function runRollbackStep(
  kind: ReturnType<typeof planComponentRollback>[number]['kind'],
  changes: ComponentChanges,
) {
  const { pod, previousTag, aegisTag } = changes;
  switch (kind) {
    case 'stop-clients':
      return compensate.stopDatabaseClients();
    case 'stop-temporal':
      return compensate.stopTemporalServer();
    case 'restore-temporal-databases':
      return changes.temporalBackup && compensate.restoreTemporalDatabases({ backup: changes.temporalBackup });
    case 'restore-definition':
      await compensate.setComponentImageTag({ pod, tag: previousTag });
      if (changes.strategy === 'postgres-major' && changes.dataDirectory) {
        await compensate.setDatabaseDataDirectory({ directory: changes.dataDirectory });
      }
      return;
    case 'redeploy':
      await compensate.redeployPod({ pod, tag: aegisTag, notBefore: new Date().toISOString() });
      await compensate.awaitPodReady({ pod, tag: aegisTag });
      return pod === 'database'
        ? compensate.verifyPostgresVersion({ version: changes.fromVersion })
        : compensate.verifyTemporalServer({ tag: previousTag });
    case 'start-clients':
      return compensate.startDatabaseClients();
    case 'validate':
      return compensate.validatePlatform();
  }
}

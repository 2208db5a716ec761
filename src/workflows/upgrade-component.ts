import type { ComponentPreflight } from '../activities/component-preflight';
import { parseComponentRequest, type ComponentUpgradeRequest } from '../core/components';
import { TEMPORAL_CONTAINER, DATABASE_CONTAINER } from '../core/platform';
import type { UpgradeReport } from '../core/upgrade';
import { compensate, preflightCheck } from './activity-options';
import {
  manualComponentRollbackSteps,
  noComponentChanges,
  planComponentRollback,
  type ComponentChanges,
  type ComponentRollbackStep,
} from './component-rollback';
import { STRATEGIES, type ComponentUpgrade } from './component-steps';
import { upgradeOrRollBack, type PlannedRollback } from './runner';
import { UpgradeRun, backupIdOf, checkBeforeChanging, completeAtTarget, validateAndComplete } from './upgrade-steps';

/**
 * Upgrades one of the platform's own components (PostgreSQL, Temporal) with the AEGIS upgrade's guarantees: checked
 * and locked before anything changes, backed up, verified after, rolled back by itself. It runs under the
 * environment's upgrade ID, so `status`, `history` and `abort` see it as they see an AEGIS upgrade.
 */
export async function upgradeComponent(input: ComponentUpgradeRequest): Promise<UpgradeReport> {
  // The run's report and queries are the AEGIS upgrade's; its target names the component (`postgres 16`).
  const run = new UpgradeRun(input, componentTarget(input));
  return run.notifier.settleAfter(runComponentUpgrade(run));
}

async function runComponentUpgrade(run: UpgradeRun<ComponentUpgradeRequest>): Promise<UpgradeReport> {
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

  const strategy = STRATEGIES[plan.strategy];
  const backupId = backupIdOf(run, `${plan.component}-${plan.fromVersion}`, plan.toVersion);
  const upgrade: ComponentUpgrade = { run, preflight, changes: noComponentChanges(preflight), backupId };
  return upgradeOrRollBack(run, {
    steps: [...strategy.steps(preflight), { id: 'validate', title: 'Validate the platform' }],
    async runSteps() {
      // Steps 2–3: the strategy's backup, change and verification.
      await strategy.upgrade(upgrade);
      // Step 4: validate.
      return validateAndComplete(run);
    },
    planRollback: () => planComponentCompensation(upgrade),
  });
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

/** The compensation of what the upgrade changed, as component-rollback.ts plans it. */
function planComponentCompensation({ run, changes }: ComponentUpgrade): PlannedRollback<ComponentRollbackStep> {
  return {
    steps: planComponentRollback(changes),
    async undo(step) {
      await run.progress.run(step.id, () => runRollbackStep(step.kind, changes));
      if (step.kind === 'restore-temporal-databases' && changes.temporalBackup) run.report.databaseRestored = true;
    },
    undone: () => ['set-tag', 'set-definition', `redeploy:${changes.pod}`, 'restore', 'start-clients'],
    manualSteps: (done) => manualComponentRollbackSteps(changes, done),
  };
}

async function runRollbackStep(kind: ComponentRollbackStep['kind'], changes: ComponentChanges) {
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
      if (changes.strategy === 'postgres-major' && changes.dataStorage) {
        await compensate.setDatabaseDataDirectory({ ...changes.dataStorage });
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

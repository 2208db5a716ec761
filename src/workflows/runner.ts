import { ApplicationFailure, CancellationScope, isCancellation, patched } from '@temporalio/workflow';
import { describeAction } from '../core/operator-actions';
import type { PodName } from '../core/platform';
import { UpgradeFailureType, type UpgradeCause, type UpgradeReport } from '../core/upgrade';
import { settleAll } from '../core/settle-all';
import { Patch } from './patches';
import { errorMessage } from './progress';
import type { UpgradeRun } from './upgrade-steps';
import { fromLabel } from '../core/platform';

/** A step as the `progress` query lists it. */
export interface PlannedStep {
  id: string;
  title: string;
  /** Runs beside the step before it, which touches nothing it does: both start together, the next waits for both. */
  besidePrevious?: boolean;
}

/** An upgrade past pre-flight, as the runner takes it: its steps, and the rollback of what they change. */
export interface UpgradeProcedure<RollbackStep extends PlannedStep> {
  /** Every step, so the `progress` query shows what comes next from the start. */
  steps: PlannedStep[];
  /** Runs the steps, each change recorded before it is made, and completes the upgrade. */
  runSteps(): Promise<UpgradeReport>;
  /** The compensation planned from the changes recorded so far (rollback.ts, component-rollback.ts). */
  planRollback(): PlannedRollback<RollbackStep>;
  /** The pod a failed step names, for a report that says it (the platform's). */
  podOf?: (step: string) => PodName | undefined;
}

/** The steps that undo what an upgrade changed, and how each runs. */
export interface PlannedRollback<RollbackStep extends PlannedStep> {
  /** In order; none when nothing was changed. */
  steps: RollbackStep[];
  /** Runs one step, recorded in the progress. */
  undo(step: RollbackStep): Promise<void>;
  /** The upgrade's steps a complete rollback undid: the progress shows them rolled back. */
  undone(): string[];
  /** The commands that finish a failed rollback by hand, the steps `done` left out. */
  manualSteps(done: readonly string[]): string[];
}

/**
 * Steps 2–4 of any upgrade: runs its planned steps and, on failure, its planned rollback, then fails as rolled back
 * (the lock released) or as a failed rollback (the lock kept: the deployment needs a hand), its report attached.
 */
export async function upgradeOrRollBack<RollbackStep extends PlannedStep>(
  run: UpgradeRun,
  procedure: UpgradeProcedure<RollbackStep>,
): Promise<UpgradeReport> {
  run.announce('upgrading');
  run.progress.plan(procedure.steps);
  try {
    return await procedure.runSteps();
  } catch (error) {
    throw await rollBackAndFail(run, procedure, error);
  }
}

async function rollBackAndFail<RollbackStep extends PlannedStep>(
  run: UpgradeRun,
  procedure: UpgradeProcedure<RollbackStep>,
  error: unknown,
): Promise<ApplicationFailure> {
  const { progress, report } = run;
  const cause = describeCause(run, error, procedure.podOf);
  report.cause = cause;
  if (isCancellation(error)) report.aborted = { ...run.abort };
  // Upgrades started before the search attributes did not announce their rollback (docs/versioning.md).
  if (patched(Patch.searchAttributes)) run.announce('rolling-back');
  const rolledBack = await CancellationScope.nonCancellable(() => rollBack(run, procedure.planRollback(), cause));
  run.announce(progress.phase);
  if (rolledBack) await run.releaseLock();
  const versions = `${fromLabel(progress)} → ${progress.toVersion}`;
  return ApplicationFailure.create({
    type: rolledBack ? UpgradeFailureType.UpgradeRolledBack : UpgradeFailureType.RollbackFailed,
    message: rolledBack
      ? `Upgrade ${versions} rolled back: ${cause.step} failed: ${cause.message}`
      : `Upgrade ${versions} failed and so did its rollback; finish it by hand: ${report.manualSteps?.join(' && ')}`,
    nonRetryable: true,
    details: [run.fullReport()],
  });
}

/** Runs the compensation; on failure records what is left and how to finish it by hand. True when all was undone. */
async function rollBack<RollbackStep extends PlannedStep>(
  { progress, report }: UpgradeRun,
  rollback: PlannedRollback<RollbackStep>,
  cause: UpgradeCause,
): Promise<boolean> {
  progress.phase = 'rolling-back';
  progress.plan(rollback.steps, true);
  const done: string[] = [];
  const undo = async (step: RollbackStep) => {
    await rollback.undo(step);
    done.push(step.id);
  };
  try {
    // Rollbacks begun before steps could run side by side replay them in turn (docs/versioning.md).
    for (const group of inTurns(rollback.steps, patched(Patch.rollbackStepsSideBySide))) {
      // Every step of a turn ends before a failure is reported: none runs on behind the manual steps.
      await settleAll(group.map(undo));
    }
    progress.markRolledBack(rollback.undone());
    progress.phase = 'rolled-back';
    return true;
  } catch (error) {
    progress.phase = 'rollback-failed';
    report.manualSteps = rollback.manualSteps(done);
    report.cause = { ...cause, message: `${cause.message}; rollback: ${errorMessage(error)}` };
    return false;
  }
}

/** The steps in turns: a step `besidePrevious` joins the turn of the one before it (unless `sideBySide` is off). */
function inTurns<Step extends PlannedStep>(steps: Step[], sideBySide: boolean): Step[][] {
  const turns: Step[][] = [];
  for (const step of steps) {
    const last = turns.at(-1);
    if (sideBySide && step.besidePrevious && last) last.push(step);
    else turns.push([step]);
  }
  return turns;
}

/** The step that failed, where the failure happened, and why: an operator's cancel says so, with its reason. */
function describeCause(
  { progress, abort }: UpgradeRun,
  error: unknown,
  podOf?: (step: string) => PodName | undefined,
): UpgradeCause {
  const step = progress.firstFailure?.id ?? progress.current()?.id ?? 'unknown';
  const message = isCancellation(error)
    ? `the upgrade was cancelled${abort?.by ? '' : ' by an operator'}${describeAction(abort ?? {})}`
    : errorMessage(error);
  return { step, ...(podOf && { pod: podOf(step) }), message };
}

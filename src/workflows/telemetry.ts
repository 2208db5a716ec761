import { log, proxySinks } from '@temporalio/workflow';
import { formatDuration } from '../core/format';
import { MetricLabel, RUNNING_PHASES, UpgradeMetric, type MetricSample, type MetricSinks } from '../core/metrics';
import { environmentOf, type StepRecord, type UpgradeOutcome, type UpgradePhase } from '../core/upgrade';
import type { ProgressLog } from './progress';
import type { RollbackStep } from './rollback';
import { asksDryRun } from '../core/upgrade-request';
import { fromLabel } from '../core/platform';

/*
 * What the workflow tells the worker's log and metrics. Both go through sinks: nothing is recorded in the history (no
 * patch needed) and nothing is repeated on replay. Metrics go through our own sink, which the worker labels as the SDK
 * labels its own (docs/observability.md).
 */

const { aegisMetrics } = proxySinks<MetricSinks>();
const record = (sample: MetricSample) => aegisMetrics.record(sample);

/** Sees every step of the progress log start and end. */
export interface StepObserver {
  started(step: StepRecord): void;
  ended(step: StepRecord): void;
}

/**
 * Logs each step's start and end with its duration, and records the duration by environment, step and status; a dry
 * run's only in the log: each has a workflow ID of its own, a label value the metrics would keep for ever.
 */
export function stepTelemetry(workflowId: string, input: unknown): StepObserver {
  const environment = environmentOf(workflowId);
  const counted = !asksDryRun(input);
  return {
    started(step) {
      log.info(`step ${step.id} started: ${step.title}`, { step: step.id, status: step.status });
    },
    ended({ id, status, durationMs, detail }) {
      const took = durationMs === undefined ? '' : ` in ${formatDuration(durationMs)}`;
      const message = `step ${id} ${status}${took}${detail ? `: ${detail}` : ''}`;
      const fields = { step: id, status, ...(durationMs !== undefined && { durationMs }) };
      if (status === 'failed') log.warn(message, fields);
      else log.info(message, fields);
      if (counted && durationMs !== undefined) {
        record({
          metric: UpgradeMetric.stepDuration,
          value: durationMs / 1000,
          labels: { [MetricLabel.environment]: environment, [MetricLabel.step]: id, [MetricLabel.status]: status },
        });
      }
    },
  };
}

/** What an upgrade's phase change reads. */
export interface PhaseContext {
  workflowId: string;
  startTime: Date;
  /** The request as it came, an AEGIS upgrade's or a component's. */
  input: unknown;
  progress: ProgressLog;
  report: UpgradeOutcome;
  /** Whether this run was counted started: once, at the first phase past its pre-flight. */
  started: { counted: boolean };
}

/** Logs the upgrade entering `phase`, and counts it (a dry run counts for nothing). */
export function recordPhase(
  { workflowId, startTime, input, progress, report, started }: PhaseContext,
  phase: UpgradePhase,
): void {
  const environment = environmentOf(workflowId);
  const from = fromLabel(progress);
  const versions = `${from ? `${from} → ` : 'to '}${progress.toVersion}`;
  const took = formatDuration(Date.now() - startTime.getTime());
  const cause = report.cause && `${report.cause.step} failed: ${report.cause.message}`;
  switch (phase) {
    case 'preflight':
      log.info(`upgrade ${versions} started${asksDryRun(input) ? ' (dry run)' : ''} on ${environment}`);
      break;
    case 'completed':
      log.info(`upgrade ${versions} completed in ${took}`);
      if (!asksDryRun(input)) {
        record({
          metric: UpgradeMetric.lastSuccess,
          value: Math.floor(Date.now() / 1000),
          labels: { [MetricLabel.environment]: environment },
        });
      }
      break;
    case 'rolled-back':
      log.warn(`upgrade ${versions} rolled back after ${took}: ${cause}`);
      break;
    case 'rollback-failed':
      log.error(
        `upgrade ${versions} failed and so did its rollback, after ${took}: ${cause}; ` +
          `finish it by hand: ${report.manualSteps?.join(' && ')}`,
      );
      break;
    case 'refused':
      log.warn(`upgrade ${versions} refused by pre-flight: ${progress.firstFailure?.detail ?? 'no detail'}`);
      break;
    default:
      log.info(`upgrade ${versions}: ${phase}`);
  }
  if (!asksDryRun(input)) countPhase(environment, phase, started);
}

/**
 * Counts an upgrade started once its pre-flight passed (the first phase past it), ended with its outcome, or refused
 * by its pre-flight; shows the phase it is in, 1 for it and 0 for the other running phases (all 0 once it ended).
 */
function countPhase(environment: string, phase: UpgradePhase, started: { counted: boolean }): void {
  const labels = { [MetricLabel.environment]: environment };
  if (phase === 'refused') record({ metric: UpgradeMetric.preflightRefused, value: 1, labels });
  else if (phase !== 'preflight' && phase !== 'planned' && !started.counted) {
    started.counted = true;
    record({ metric: UpgradeMetric.started, value: 1, labels });
  }
  if (phase === 'completed' || phase === 'rolled-back' || phase === 'rollback-failed') {
    record({ metric: UpgradeMetric.ended, value: 1, labels: { ...labels, [MetricLabel.outcome]: phase } });
  }
  for (const running of RUNNING_PHASES) {
    record({
      metric: UpgradeMetric.inProgress,
      value: running === phase ? 1 : 0,
      labels: { ...labels, [MetricLabel.phase]: running },
    });
  }
}

/** The rollback's decision, from the changes recorded: what it will undo, in order, or that nothing needs it. */
export function logRollbackPlan(steps: readonly RollbackStep[]): void {
  if (steps.length === 0) {
    log.info('rollback: the upgrade had changed nothing, so nothing is undone');
    return;
  }
  log.warn(`rollback planned: ${steps.map((step) => step.title).join('; ')}`, {
    steps: steps.map((step) => step.id),
  });
}

import { log, metricMeter } from '@temporalio/workflow';
import { formatDuration } from '../core/format';
import { UpgradeMetric } from '../core/metrics';
import { environmentOf, type StepRecord, type UpgradeOutcome, type UpgradePhase } from '../core/upgrade';
import type { ProgressLog } from './progress';
import type { RollbackStep } from './rollback';
import { asksDryRun } from '../core/upgrade-request';

/*
 * What the workflow tells the worker's log and metrics. Both go through the SDK's sinks: nothing is recorded in the
 * history (no patch needed) and nothing is repeated on replay.
 */

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
        metricMeter
          .createHistogram(UpgradeMetric.stepDuration, 'float', 's', 'How long each upgrade step took')
          .record(durationMs / 1000, { environment, step: id, status });
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
}

/** Logs the upgrade entering `phase`; counts it started, and ended with its outcome (a dry run counts for nothing). */
export function recordPhase(
  { workflowId, startTime, input, progress, report }: PhaseContext,
  phase: UpgradePhase,
): void {
  const environment = environmentOf(workflowId);
  const versions = `${progress.fromVersion ? `${progress.fromVersion} → ` : 'to '}${progress.toVersion}`;
  const took = formatDuration(Date.now() - startTime.getTime());
  const cause = report.cause && `${report.cause.step} failed: ${report.cause.message}`;
  switch (phase) {
    case 'preflight':
      log.info(`upgrade ${versions} started${asksDryRun(input) ? ' (dry run)' : ''} on ${environment}`);
      break;
    case 'completed':
      log.info(`upgrade ${versions} completed in ${took}`);
      metricMeter
        .createGauge(UpgradeMetric.lastSuccess, 'int', 's', 'When the last upgrade of the environment completed')
        .set(Math.floor(Date.now() / 1000), { environment });
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
  if (asksDryRun(input)) return;
  if (phase === 'preflight') {
    metricMeter.createCounter(UpgradeMetric.started, '', 'Upgrades started').add(1, { environment });
  }
  if (phase === 'completed' || phase === 'rolled-back' || phase === 'rollback-failed' || phase === 'refused') {
    metricMeter
      .createCounter(UpgradeMetric.ended, '', 'Upgrades ended, by outcome')
      .add(1, { environment, outcome: phase });
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

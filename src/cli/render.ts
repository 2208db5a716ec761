import { formatDuration, formatMiB } from '../format';
import type { StepRecord, UpgradeProgress, UpgradeReport } from '../upgrade';
import type { ScheduleSummary } from './schedules';
import type { HistoryEntry } from './upgrades';

const MARK: Record<StepRecord['status'], string> = {
  pending: '·',
  running: '▶',
  succeeded: '✓',
  failed: '✗',
  skipped: '-',
  'rolled-back': '↺',
};

/** One line per step: mark, title, duration, detail. */
export function stepLine(step: StepRecord, now = Date.now()): string {
  const elapsed = step.status === 'running' && step.startedAt ? now - Date.parse(step.startedAt) : step.durationMs;
  const duration = formatDuration(elapsed);
  return [`  ${MARK[step.status]} ${step.title}`, duration && `(${duration})`, step.detail && `— ${step.detail}`]
    .filter(Boolean)
    .join(' ');
}

/** What an operator needs at a glance: phase, versions, every step, and what comes next. */
export function renderProgress(progress: UpgradeProgress, now = Date.now()): string {
  const versions = `${progress.fromVersion ?? '?'} → ${progress.toVersion}`;
  const lines = [`Upgrade ${versions}: ${progress.phase}`, ...progress.steps.map((step) => stepLine(step, now))];
  if (progress.rollback.length > 0) lines.push('Rollback:', ...progress.rollback.map((step) => stepLine(step, now)));
  const next = [...progress.rollback, ...progress.steps].find((step) => step.status === 'pending');
  if (next && !['completed', 'rolled-back', 'rollback-failed', 'refused'].includes(progress.phase)) {
    lines.push(`Next: ${next.title}`);
  }
  return lines.join('\n');
}

/** The end of an upgrade in plain words: what failed, what was undone, where the backup is. */
export function renderOutcome(report: UpgradeReport): string {
  const lines: string[] = [];
  if (report.cause) lines.push(`Failed at ${report.cause.step}: ${report.cause.message}`);
  if (report.phase === 'rolled-back') {
    const undone = report.rollback.filter((step) => step.status === 'succeeded').map((step) => step.title);
    lines.push(`Rolled back: ${undone.join('; ')}`);
    lines.push(
      report.databaseRestored ? 'Database: restored from the backup' : 'Database: not restored (schema unchanged)',
    );
  }
  if (report.migrationsApplied.length > 0 && report.phase === 'completed') {
    lines.push(`Migrations applied: ${report.migrationsApplied.join(', ')}`);
  }
  if (report.backup) lines.push(`Backup: ${report.backup.location}`);
  if (report.manualSteps)
    lines.push('Finish by hand, in the deploy checkout:', ...report.manualSteps.map((step) => `  ${step}`));
  return lines.join('\n');
}

export function renderPlan(report: UpgradeReport): string {
  const plan = report.plan;
  if (!plan) return renderOutcome(report);
  return [
    `Plan: ${report.fromVersion} → ${report.toVersion} (nothing was changed)`,
    'Images:',
    ...plan.images.map((image) => `  ${image.container}: ${image.current} → ${image.target}`),
    `Steps: pre-flight, pull images and back up the databases (about ${formatMiB(plan.backupEstimateBytes)} at most), ` +
      `set AEGIS_IMAGE_TAG=${report.toVersion}, redeploy ${plan.pods.join(' → ')}, check migrations, validate`,
    `On failure: rollback${plan.restorePossible ? ', with a database restore if the schema moved' : ' (no database restore)'}`,
    'Checks passed:',
    ...plan.checks.map((check) => `  ✓ ${check}`),
  ].join('\n');
}

export function renderHistory(entries: HistoryEntry[]): string {
  if (entries.length === 0) return 'No upgrade yet.';
  return entries
    .map(
      (entry) =>
        `${entry.startedAt}  ${entry.environment ?? '?'}  ${entry.fromVersion ?? '?'} → ${entry.toVersion ?? '?'}  ` +
        `${entry.outcome}${entry.duration ? ` in ${entry.duration}` : ''}  (by ${entry.startedBy})  ${entry.workflowId}`,
    )
    .join('\n');
}

export function renderSchedules(schedules: ScheduleSummary[]): string {
  if (schedules.length === 0) return 'No schedule.';
  return schedules
    .map((schedule) => {
      const state = schedule.paused ? `paused${schedule.note ? ` (${schedule.note})` : ''}` : 'active';
      return `${schedule.scheduleId}  ${state}  next: ${schedule.nextRun ?? 'none'}`;
    })
    .join('\n');
}

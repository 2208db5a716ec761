import { formatDuration, formatMiB } from '../core/format';
import { fromLabel, HOST_CLI, STOPPED_WRITERS_FILE, UPGRADE_LOCK_HISTORY_FILE } from '../core/platform';
import type { DatabaseRestore, StepRecord, UpgradePlan, UpgradeProgress, UpgradeReport } from '../core/upgrade';
import type { RollbackTarget } from '../core/rollback-target';
import { describeLock, type UnlockReport } from '../core/upgrade-lock';
import { describeAction } from '../core/operator-actions';
import type { EnvironmentSummary } from './environments';
import type { HistoryEntry, UnansweredUpgrade } from './upgrades';
import type { ScheduleSummary } from './schedules';
import { plain, visibleWidth, type Paint } from './terminal';

const MARK: Record<StepRecord['status'], string> = {
  pending: '·',
  running: '▶',
  succeeded: '✓',
  failed: '✗',
  skipped: '-',
  'rolled-back': '↺',
};

const MARK_COLOUR: Record<StepRecord['status'], keyof Paint> = {
  pending: 'dim',
  running: 'active',
  succeeded: 'ok',
  failed: 'bad',
  skipped: 'dim',
  'rolled-back': 'warn',
};

/** A phase, or a history entry's outcome, coloured by how it ended. */
function paintPhase(phase: string, paint: Paint): string {
  if (phase === 'completed' || phase === 'planned') return paint.ok(phase);
  if (phase === 'rolled-back' || phase === 'waiting-for-approval') return paint.warn(phase);
  if (phase === 'rollback-failed' || phase === 'refused' || phase === 'failed') return paint.bad(phase);
  return phase;
}

/** One line per step: mark, title, duration, detail. */
export function stepLine(step: StepRecord, now = Date.now(), paint: Paint = plain): string {
  const elapsed = step.status === 'running' && step.startedAt ? now - Date.parse(step.startedAt) : step.durationMs;
  const duration = formatDuration(elapsed);
  const mark = paint[MARK_COLOUR[step.status]](MARK[step.status]);
  return [`  ${mark} ${step.title}`, duration && `(${duration})`, step.detail && `— ${step.detail}`]
    .filter(Boolean)
    .join(' ');
}

/** What an operator needs at a glance: phase, versions, every step, and what comes next. */
export function renderProgress(progress: UpgradeProgress, now = Date.now(), paint: Paint = plain): string {
  const versions = `${fromLabel(progress) ?? '?'} → ${progress.toVersion}`;
  const lines = [
    `Upgrade ${versions}: ${paintPhase(progress.phase, paint)}`,
    ...progress.steps.map((step) => stepLine(step, now, paint)),
  ];
  if (progress.rollback.length > 0) {
    lines.push('Rollback:', ...progress.rollback.map((step) => stepLine(step, now, paint)));
  }
  lines.push(
    ...(progress.approvals ?? []).map(
      (approval) => `Approved before ${approval.pod}${describeAction(approval)} (${approval.at})`,
    ),
  );
  lines.push(...(progress.notes ?? []).map((note) => `Note: ${note}`));
  const next = [...progress.rollback, ...progress.steps].find((step) => step.status === 'pending');
  if (next && !['completed', 'rolled-back', 'rollback-failed', 'refused'].includes(progress.phase)) {
    lines.push(`Next: ${next.title}`);
  }
  return lines.join('\n');
}

export function renderResult(report: UpgradeReport, paint: Paint = plain): string {
  return `Result: ${paintPhase(report.phase, paint)}`;
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
  if (report.databaseRestore) lines.push(...renderRestore(report.databaseRestore));
  if (report.migrationsApplied.length > 0 && report.phase === 'completed') {
    lines.push(`Migrations applied: ${report.migrationsApplied.join(', ')}`);
  }
  if (report.hostCli) lines.push(`Host: ${report.hostCli.binary}; ${report.hostCli.daemon}`);
  if (report.backup) lines.push(`Backup: ${report.backup.location}`);
  if (report.manualSteps)
    lines.push('Finish by hand, in the deploy checkout:', ...report.manualSteps.map((step) => `  ${step}`));
  if (report.lockNotReleased) lines.push(`Lock: ${report.lockNotReleased}`);
  return lines.join('\n');
}

/** What a restore discarded and where the replaced data is kept. */
function renderRestore(restore: DatabaseRestore): string[] {
  const { from, to } = restore.discardedWrites;
  return [
    `Restored ${restore.databases.join(', ')} from ${restore.dumps.join(', ')} (taken ${restore.dumpTakenAt})`,
    `Writes discarded: from ${from} to ${to}` +
      (restore.writersStopped ? ' (writers were stopped: only the new release wrote then)' : ' (taken live)'),
    `Before the restore: ${restore.preRestoreDumps.join(', ')}`,
  ];
}

/** ` (database, observability unchanged: not redeployed)`, or nothing. */
function unchanged({ unchangedPods = [] }: UpgradePlan): string {
  return unchangedPods.length > 0 ? ` (${unchangedPods.join(', ')} unchanged: not redeployed)` : '';
}

export function renderPlan(report: UpgradeReport): string {
  const plan = report.plan;
  if (!plan) return renderOutcome(report) || renderRefusal(report);
  return [
    `Plan: ${fromLabel(report)} → ${report.toVersion} (nothing was changed)`,
    'Images:',
    ...plan.images.map((image) => `  ${image.container}: ${image.current} → ${image.target}`),
    `Steps: pre-flight, pull images and back up the databases (about ${formatMiB(plan.backupEstimateBytes)} at most), ` +
      `set AEGIS_IMAGE_TAG=${report.toVersion}, redeploy ${plan.pods.join(' → ')}${unchanged(plan)}, check migrations, ` +
      `${plan.pods.includes('core') ? `put the new ${HOST_CLI.binary} on the host and restart ${HOST_CLI.unit}, ` : ''}validate`,
    `On failure: rollback${plan.restorePossible ? ', with a database restore if the schema moved' : ' (no database restore)'}`,
    ...(plan.approvalTimeout
      ? [`Approval gates: each waits up to ${plan.approvalTimeout}, then the upgrade rolls back`]
      : []),
    'Checks passed:',
    ...plan.checks.map((check) => `  ✓ ${check}`),
  ].join('\n');
}

/** A running upgrade whose worker does not answer: what the server knows of it, and that no worker polls. */
export function renderUnanswered(upgrade: UnansweredUpgrade, paint: Paint = plain): string {
  const versions = `${upgrade.fromVersion ?? '?'} → ${upgrade.toVersion ?? '?'}`;
  return [
    `${upgrade.workflowId} (run ${upgrade.runId}): ${versions}, running since ${upgrade.startedAt}, ` +
      `phase ${upgrade.phase ?? 'unknown'} (from the server: the worker does not answer)`,
    ...upgrade.retrying.map(
      ({ activity, attempt, lastError }) =>
        `Retrying ${activity}, attempt ${attempt}${lastError ? `; last error: ${lastError}` : ''}`,
    ),
    paint.bad(upgrade.worker),
  ].join('\n');
}

/** A plan refused before it had one (pre-flight failed): the failed check's detail, never an empty line. */
function renderRefusal(report: UpgradeReport): string {
  const failed = report.steps.filter((step) => step.status === 'failed');
  if (failed.length === 0) return `No plan: the upgrade ended ${report.phase}`;
  return failed.map((step) => `Refused at ${step.title}: ${step.detail ?? 'no detail given'}`).join('\n');
}

/** Rows under a header, each column as wide as its widest cell (colours take no width), two spaces apart. */
export function renderTable(header: string[], rows: string[][]): string {
  const widths = header.map((_, column) =>
    Math.max(...[header, ...rows].map((row) => visibleWidth(row[column] ?? ''))),
  );
  return [header, ...rows]
    .map((row) =>
      widths
        .map((width, column) => {
          const cell = row[column] ?? '';
          return cell + ' '.repeat(width - visibleWidth(cell));
        })
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function renderHistory(entries: HistoryEntry[], paint: Paint = plain): string {
  if (entries.length === 0) return 'No upgrade yet.';
  const table = renderTable(
    ['STARTED', 'ENVIRONMENT', 'FROM', 'TO', 'OUTCOME', 'DURATION', 'BY', 'WORKFLOW'],
    entries.map((entry) => [
      entry.startedAt,
      entry.environment,
      entry.fromVersion ?? '?',
      entry.toVersion ?? '?',
      paintPhase(entry.phase, paint),
      entry.durationMs === undefined ? '' : formatDuration(entry.durationMs),
      entry.startedBy,
      entry.workflowId,
    ]),
  );
  return [table, ...entries.flatMap(operatorLines)].join('\n');
}

/** Under the table: who approved each gate and who aborted, with why, per upgrade that has any. */
function operatorLines(entry: HistoryEntry): string[] {
  const lines = [
    ...(entry.approvals ?? []).map((approval) => `approved before ${approval.pod}${describeAction(approval)}`),
    ...(entry.aborted ? [`aborted${describeAction(entry.aborted)}`] : []),
  ];
  return lines.map((line) => `${entry.workflowId} (${entry.startedAt}): ${line}`);
}

export function renderSchedules(schedules: ScheduleSummary[], paint: Paint = plain): string {
  if (schedules.length === 0) return 'No schedule.';
  return renderTable(
    ['SCHEDULE', 'STATE', 'NEXT RUN'],
    schedules.map((schedule) => [
      schedule.scheduleId,
      schedule.paused ? paint.warn(`paused${schedule.note ? ` (${schedule.note})` : ''}`) : 'active',
      schedule.nextRun ?? 'none',
    ]),
  );
}

/** What an unlock cleared, where it is recorded, and what to check before the next upgrade. */
export function renderUnlock(report: UnlockReport): string {
  const { cleared } = report;
  if (!cleared) return `No upgrade lock at ${report.path}: nothing to clear`;
  const previous = cleared.previous;
  const held =
    'unreadable' in previous
      ? `it named no upgrade (${previous.unreadable})`
      : `it was held by ${describeLock(previous)} (its run: ${(cleared.ownerStatus ?? 'ended').toLowerCase()})`;
  const history = report.path.replace(/[^/]*$/, UPGRADE_LOCK_HISTORY_FILE);
  const writers = report.writersStarted ?? [];
  return [
    `Cleared the upgrade lock ${report.path}: ${held}`,
    `Recorded in ${history}: by ${cleared.clearedBy} at ${cleared.clearedAt}${cleared.reason ? `: ${cleared.reason}` : ''}`,
    ...(writers.length > 0
      ? [`Started again the database writers that upgrade had stopped for its final dump: ${writers.join(', ')}`]
      : []),
    ...(report.writersNotStarted
      ? [
          `Could not start again the database writers that upgrade had stopped: ${report.writersNotStarted}. ` +
            `Start them by hand (\`podman start <container>\`, see \`${STOPPED_WRITERS_FILE}\` in the checkout)`,
        ]
      : []),
    'Anything else is as that upgrade left it: check it (`make validate`) before the next upgrade; its pre-flight names what is not running',
  ].join('\n');
}

/** Each environment: its version, its last upgrade and whether its worker is there to take the next one. */
export function renderEnvironments(environments: EnvironmentSummary[], paint: Paint = plain): string {
  if (environments.length === 0) return 'No environment has had an upgrade yet.';
  return renderTable(
    ['ENVIRONMENT', 'VERSION', 'LAST UPGRADE', 'STARTED', 'WORKER', 'TASK QUEUE'],
    environments.map(({ name, version, lastUpgrade, workerPolling, taskQueue }) => [
      name,
      version ?? '?',
      `${lastUpgrade.toVersion ?? '?'} ${paintPhase(lastUpgrade.phase, paint)}`,
      lastUpgrade.startedAt,
      workerPolling ? paint.ok('polling') : paint.bad('none'),
      taskQueue,
    ]),
  );
}

/** What `rollback` puts back: from which version to which, the upgrade it undoes, the backup and the writes it loses. */
export function renderRollbackTarget(env: string, target: RollbackTarget): string {
  const { upgrade, runningVersion, targetVersion, restoreFrom, discardsFrom } = target;
  return [
    `Rollback of ${env}: ${runningVersion} → ${targetVersion}, putting back ${upgrade.report.fromVersion} → ` +
      `${upgrade.report.toVersion} (${upgrade.workflowId} run ${upgrade.runId}` +
      `${upgrade.endedAt ? `, completed ${upgrade.endedAt}` : ''})`,
    `Restores backup ${restoreFrom}: the writes to aegis from ${discardsFrom ?? 'when it was taken'} until the ` +
      'restore are discarded (a dump of the database as it is now is kept beside it)',
  ].join('\n');
}

import type { WorkflowHandle } from '@temporalio/client';
import { formatDuration } from '../core/format';
import { progressQuery, type StepRecord, type UpgradeProgress, type UpgradeReport } from '../core/upgrade';
import { renderOutcome, renderProgress, renderResult, stepLine } from './render';
import { CommandFailed } from './errors';
import { liveBlock, plain, type Output, type Paint } from './terminal';
import { upgradeOutcome } from './upgrades';

export interface FollowOptions {
  /** @default process.stdout */
  out?: Output;
  /** @default plain */
  paint?: Paint;
  /** How often the progress is queried. @default 1000 */
  pollIntervalMs?: number;
  /** How long to follow before giving up, exit 1 (`--timeout`); the upgrade goes on. @default no limit */
  timeoutMs?: number;
  /**
   * Asks the upgrade's progress; when no worker answers, says why ("no worker polls `<queue>` since <time>"), printed
   * once while it lasts. @default the progress query, unanswered silently
   */
  ask?: () => Promise<UpgradeProgress | { unanswered: string }>;
}

/** Prints each step once, when it has ended: a log or a CI job gets one line per change. */
function appendedLines(out: Output, paint: Paint): (progress: UpgradeProgress) => void {
  const printed = new Map<string, string>();
  return (progress) => {
    for (const step of [...progress.steps, ...progress.rollback] as StepRecord[]) {
      if (step.status === 'pending' || step.status === 'running' || printed.get(step.id) === step.status) continue;
      printed.set(step.id, step.status);
      out.write(`${stepLine(step, Date.now(), paint)}\n`);
    }
  };
}

/**
 * Shows an upgrade live until it ends: redrawn in place in a terminal, appended lines otherwise (a log, a CI job).
 * Returns its final report.
 */
export async function followUpgrade(handle: WorkflowHandle, options: FollowOptions = {}): Promise<UpgradeReport> {
  const { out = process.stdout, paint = plain, pollIntervalMs = 1_000, timeoutMs } = options;
  const ask = options.ask ?? (() => handle.query(progressQuery).catch(() => ({ unanswered: '' })));
  const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
  let said: string | undefined;
  const redraw = liveBlock(out);
  const show = out.isTTY
    ? (progress: UpgradeProgress) => redraw(renderProgress(progress, Date.now(), paint))
    : appendedLines(out, paint);
  let ended = false;
  const outcome = upgradeOutcome(handle).finally(() => (ended = true));
  while (!ended) {
    if (Date.now() >= deadline) {
      throw new CommandFailed(
        `Stopped following ${handle.workflowId} after ${formatDuration(timeoutMs ?? 0)} (--timeout): it goes on; ` +
          `\`aegis-upgrade status\` shows it`,
      );
    }
    const asked = await ask();
    if ('unanswered' in asked) {
      if (asked.unanswered && asked.unanswered !== said) out.write(`${asked.unanswered}\n`);
      said = asked.unanswered;
    } else {
      show(asked);
      said = undefined;
    }
    let timer: NodeJS.Timeout | undefined;
    const tick = new Promise((resolve) => (timer = setTimeout(resolve, pollIntervalMs)));
    await Promise.race([outcome.catch(() => undefined), tick]);
    clearTimeout(timer);
  }
  const report = await outcome;
  show(report);
  out.write(`${[renderResult(report, paint), renderOutcome(report)].filter(Boolean).join('\n')}\n`);
  return report;
}

/** What `fleet status` knows at one moment: the fleet's progress, and whether it still runs. */
export interface FleetSnapshot {
  running: boolean;
  /** Its lines as `fleet status` prints them: the fleet's, then one per environment, in a stable order. */
  lines: string[];
}

export interface FleetFollowOptions {
  /** @default process.stdout */
  out?: Output;
  /** How often the fleet is asked. @default 1000 */
  pollIntervalMs?: number;
  /** How long to follow before giving up, exit 1 (`--timeout`); the fleet goes on. @default no limit */
  timeoutMs?: number;
}

/**
 * Shows a fleet live until its workflow ends, as `followUpgrade` shows an upgrade: redrawn in place in a terminal,
 * otherwise each line printed once, when it changed (a log gets one line per environment's change).
 */
export async function followFleet(
  workflowId: string,
  look: () => Promise<FleetSnapshot>,
  { out = process.stdout, pollIntervalMs = 1_000, timeoutMs }: FleetFollowOptions = {},
): Promise<void> {
  const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
  const redraw = liveBlock(out);
  const printed: string[] = [];
  const show = out.isTTY
    ? (lines: string[]) => redraw(lines.join('\n'))
    : (lines: string[]) =>
        lines.forEach((line, index) => {
          if (printed[index] === line) return;
          printed[index] = line;
          out.write(`${line.trim()}\n`);
        });
  for (;;) {
    const snapshot = await look();
    show(snapshot.lines);
    if (!snapshot.running) return;
    if (Date.now() >= deadline) {
      throw new CommandFailed(
        `Stopped following ${workflowId} after ${formatDuration(timeoutMs ?? 0)} (--timeout): it goes on; ` +
          '`aegis-upgrade fleet status` shows it',
      );
    }
    await new Promise((resolve) => setTimeout(resolve, pollIntervalMs));
  }
}

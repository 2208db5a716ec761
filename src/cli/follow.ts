import type { WorkflowHandle } from '@temporalio/client';
import { progressQuery, type StepRecord, type UpgradeProgress, type UpgradeReport } from '../upgrade';
import { renderOutcome, renderProgress, stepLine } from './render';
import { upgradeOutcome } from './upgrades';

const POLL_INTERVAL_MS = 1_000;

/**
 * Shows an upgrade live until it ends: redrawn in a terminal, appended lines otherwise (a log, a CI job).
 * Returns its final report.
 */
export async function followUpgrade(
  handle: WorkflowHandle,
  out: NodeJS.WriteStream = process.stdout,
): Promise<UpgradeReport> {
  const printed = new Map<string, string>();
  const appendChanges = (progress: UpgradeProgress) => {
    for (const step of [...progress.steps, ...progress.rollback] as StepRecord[]) {
      if (step.status === 'pending' || step.status === 'running' || printed.get(step.id) === step.status) continue;
      printed.set(step.id, step.status);
      out.write(`${stepLine(step)}\n`);
    }
  };
  let ended = false;
  const outcome = upgradeOutcome(handle).finally(() => (ended = true));
  while (!ended) {
    const progress = await handle.query(progressQuery).catch(() => undefined);
    if (progress && out.isTTY) out.write(`\u001b[2J\u001b[H${renderProgress(progress)}\n`);
    else if (progress) appendChanges(progress);
    await Promise.race([
      outcome.catch(() => undefined),
      new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS)),
    ]);
  }
  const report = await outcome;
  if (out.isTTY) out.write(`\u001b[2J\u001b[H${renderProgress(report)}\n`);
  else appendChanges(report);
  out.write(`Result: ${report.phase}\n${renderOutcome(report)}\n`);
  return report;
}

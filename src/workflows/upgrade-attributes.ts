import { patched, setCurrentDetails, upsertSearchAttributes } from '@temporalio/workflow';
import { upgradeSearchAttributes, type UpgradeAttributes } from '../core/search-attributes';
import type { UpgradeProgress } from '../core/upgrade';
import { asksDryRun } from '../core/upgrade-request';
import { Patch } from './patches';
import { fromLabel } from '../core/platform';

/**
 * Shows the upgrade's phase in its search attributes (a new command: upgrades started before the patch replay
 * without it). A dry run is no upgrade: it gets none, so an environment's filter lists its upgrades only.
 */
export function upsertUpgradeAttributes(attributes: UpgradeAttributes, input: unknown): void {
  if (asksDryRun(input) || !patched(Patch.searchAttributes)) return;
  upsertSearchAttributes(upgradeSearchAttributes(attributes));
}

/** What the Temporal UI shows under the run's current details: where the upgrade is, in a few Markdown lines. */
export function currentDetails(environment: string, progress: UpgradeProgress): string {
  const { phase, toVersion, currentStep, steps, rollback } = progress;
  const lines = [
    `**AEGIS upgrade of ${environment}: ${fromLabel(progress) ?? '?'} → ${toVersion}**`,
    `Phase: ${phase}`,
  ];
  const list = rollback.some((step) => step.id === currentStep) ? rollback : steps;
  const index = list.findIndex((step) => step.id === currentStep);
  const step = list[index];
  if (step) {
    const kind = list === rollback ? 'Rollback step' : 'Step';
    lines.push(`${kind} ${index + 1} of ${list.length}: ${step.title} (since ${step.startedAt ?? '?'})`);
  }
  const failed = [...steps, ...rollback].find((candidate) => candidate.status === 'failed');
  if (failed) lines.push(`Failed: ${failed.title}: ${failed.detail ?? ''}`);
  return lines.join('\n\n');
}

/** Keeps the UI's current details in step with the progress: it issues no command, so it needs no patch. */
export function showCurrentDetails(environment: string, progress: UpgradeProgress): void {
  setCurrentDetails(currentDetails(environment, progress));
}

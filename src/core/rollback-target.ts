/**
 * Putting a completed upgrade back: a downgrade to the version it left, with the backup it took then restored
 * (`restoreFrom`), as `aegis-upgrade rollback` and a fleet's rollback of a wave ask for it. Pure and deterministic: the
 * fleet's workflow reads a report with it as the CLI does.
 */
import { isMutableTag } from './platform';
import type { UpgradeReport } from './upgrade';

/** The backup an upgrade took, as `restoreFrom` names it: its directory's name under the backup directory. */
export function backupName(report: Pick<UpgradeReport, 'backup'>): string | undefined {
  return report.backup?.location.split('/').pop() || undefined;
}

/**
 * When the dump a restore of the upgrade's backup starts from was taken: the final one, taken with the writers
 * stopped just before the new runtime started, or else the first. Every write to `aegis` since is discarded.
 */
export function backupTakenAt(report: Pick<UpgradeReport, 'backup' | 'steps'>): string | undefined {
  return report.backup?.final?.takenAt ?? report.steps.find((step) => step.id === 'backup')?.startedAt;
}

/** A completed upgrade as the server recorded it: its run and its report. */
export interface CompletedUpgrade {
  workflowId: string;
  runId: string;
  endedAt?: string;
  report: UpgradeReport;
}

/** What `rollback` starts: the downgrade, the upgrade it puts back, and the writes it discards. */
export interface RollbackTarget {
  upgrade: CompletedUpgrade;
  /** The version the platform runs now, as the last completed upgrade left it. */
  runningVersion: string;
  targetVersion: string;
  restoreFrom: string;
  /** The writes to `aegis` from this time to the restore are discarded. */
  discardsFrom?: string;
}

/** No recorded upgrade can be put back as asked: the message names the choices there are. */
export class RollbackRefused extends Error {
  override readonly name = 'RollbackRefused';
}

/** An upgrade that changed the version (an upgrade to the version already running completes changing nothing). */
const changedVersion = ({ report }: CompletedUpgrade) =>
  report.fromVersion !== undefined && report.fromVersion !== report.toVersion;

function describe({ workflowId, runId, endedAt, report }: CompletedUpgrade): string {
  const backup = backupName(report);
  return (
    `${report.fromVersion} (left by ${report.fromVersion} → ${report.toVersion}, ${workflowId} run ${runId}` +
    `${endedAt ? ` completed ${endedAt}` : ''}; ${backup ? `backup ${backup}` : 'no backup'})`
  );
}

/**
 * The upgrade to put back, from the environment's completed upgrades (newest first): the last one, or with `to` the
 * last one that left `to`, which puts back every upgrade since with it. Refused, naming the versions it could go back
 * to, when none is recorded, none left `to`, it left a moving tag (which names no version to return to), or it took
 * no backup.
 */
export function chooseRollback(env: string, completed: readonly CompletedUpgrade[], to?: string): RollbackTarget {
  const changed = completed.filter(changedVersion);
  const [last] = changed;
  if (!last) {
    throw new RollbackRefused(`No completed upgrade of environment ${env} is recorded: there is nothing to put back`);
  }
  const choices = () => `the versions it can go back to: ${changed.map(describe).join('; ')}`;
  const upgrade = to === undefined ? last : changed.find(({ report }) => report.fromVersion === to);
  if (!upgrade) {
    throw new RollbackRefused(`No completed upgrade of environment ${env} left ${to}; ${choices()}`);
  }
  const { report } = upgrade;
  const targetVersion = report.fromVersion ?? '';
  if (isMutableTag(targetVersion)) {
    throw new RollbackRefused(
      `${upgrade.workflowId} left ${targetVersion}, a moving tag, which names no version to go back to; ` +
        `start a downgrade to the version it ran with \`aegis-upgrade start <version> --restore-from ` +
        `${backupName(report) ?? '<backup>'}\`, or choose another with --to: ${choices()}`,
    );
  }
  const restoreFrom = backupName(report);
  if (!restoreFrom) {
    throw new RollbackRefused(`${upgrade.workflowId} took no backup to restore; ${choices()}`);
  }
  const discardsFrom = backupTakenAt(report);
  return {
    upgrade,
    runningVersion: last.report.toVersion,
    targetVersion,
    restoreFrom,
    ...(discardsFrom && { discardsFrom }),
  };
}

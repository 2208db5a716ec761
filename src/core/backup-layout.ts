/**
 * Where an upgrade's backup keeps each file, inside its own directory under the backup directory. Pure: the
 * activities write these files and the workflow names them in the manual rollback steps.
 *
 * <backup>/globals.sql, <db>.dump, manifest.json   taken at the start, beside the pulls
 * <backup>/final/<db>.dump                         the migrated databases, writers stopped, just before the new runtime
 * <backup>/restores/<run>/restore.json             the decision of the run that restores (a rollback or a downgrade)
 * <backup>/restores/<run>/pre-restore/<db>.dump    the migrated databases as they were just before that run's restore
 * <backup>/pre-restore/<db>.manual-<time>.dump     the same, taken by an operator's manual rollback
 */
import type { BackupRecord } from './upgrade';

export const MANIFEST_FILE = 'manifest.json';
export const FINAL_DIRECTORY = 'final';
export const PRE_RESTORE_DIRECTORY = 'pre-restore';
export const RESTORE_DECISION_FILE = 'restore.json';

/**
 * Where one workflow run's restore keeps its state, inside the backup: a retry of that run resumes it, while a later
 * run that names the same backup (a second downgrade) restores again, from a fresh pre-restore dump.
 */
export function restoreRunDirectory(runId: string): string {
  return `restores/${runId}`;
}

export function dumpFileName(database: string): string {
  return `${database}.dump`;
}

/** The dump a rollback restores `database` from: the final dump when it was taken, else the first one. */
export function restoreSourceName(backup: Pick<BackupRecord, 'final'>, database: string): string {
  const final = `${FINAL_DIRECTORY}/${dumpFileName(database)}`;
  return backup.final?.files.some((file) => file.name === final) ? final : dumpFileName(database);
}

/** Scratch database a restore fills before it takes the live one's name. */
export function restoringDatabase(database: string): string {
  return `${database}__restoring`;
}

/**
 * Where an upgrade's backup keeps each file, inside its own directory under the backup directory. Pure: the
 * activities write these files and the workflow names them in the manual rollback steps.
 *
 * <backup>/globals.sql, <db>.dump, manifest.json   taken at the start, beside the pulls
 * <backup>/final/<db>.dump                         the migrated databases, writers stopped, just before the new runtime
 * <backup>/restore.json                            a rollback's decision to restore, taken once
 * <backup>/pre-restore/<db>.dump, manifest.json    the migrated databases as they were just before the restore
 */
import type { BackupRecord } from './upgrade';

export const MANIFEST_FILE = 'manifest.json';
export const FINAL_DIRECTORY = 'final';
export const PRE_RESTORE_DIRECTORY = 'pre-restore';
export const RESTORE_DECISION_FILE = 'restore.json';

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

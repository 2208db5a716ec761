import path from 'node:path';
import { Context } from '@temporalio/activity';
import { FINAL_DIRECTORY, MANIFEST_FILE, dumpFileName } from '../core/backup-layout';
import type { BackupFile, BackupRecord, RestoreDatabasePolicy } from '../core/upgrade';
import type { Deployment } from '../host/deployment';
import { createDumpTools, privateDirectory, readJson, writePrivateJson } from '../host/dump-files';
import { BackupInvalid, InvalidActivityInput } from '../core/errors';
import { heartbeatWhile } from '../host/heartbeat';
import { readMigrations, type MigrationRow } from './migrations';
import { createRestore, type RestoreResult } from '../host/restore';
import { stopWriters } from './writers';

const GLOBALS = 'globals.sql';

export interface BackupInput {
  /** Directory name under the backup directory, unique to the upgrade, e.g. `20261126T031500Z-1.2.0-to-1.3.0`. */
  backupId: string;
  fromVersion: string;
  toVersion: string;
}

export interface BackupManifest {
  /** When the first dump began: a restore of these dumps loses every write since. */
  startedAt?: string;
  createdAt: string;
  fromVersion: string;
  toVersion: string;
  images: Record<string, string>;
  migrations: MigrationRow[];
  files: BackupFile[];
  final?: BackupRecord['final'];
}

export interface RestoreInput {
  backup: BackupRecord;
  policy: RestoreDatabasePolicy;
}

export interface FinalBackupInput {
  backup: BackupRecord;
}

/** A directory name the backup directory can hold: no `/`, never `.` or `..`, no leading dot, no control character. */
const BACKUP_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$/;

/** The backup's own directory, directly inside the backup directory; anything else is refused. */
export function backupDirectory(backupDir: string, backupId: unknown): string {
  if (typeof backupId !== 'string' || !BACKUP_NAME.test(backupId)) {
    throw new InvalidActivityInput(
      'backupId',
      'a plain directory name like 20261126T031500Z-1.2.0-to-1.3.0',
      String(backupId),
    );
  }
  return path.join(backupDir, backupId);
}

/** A backup's location as `backUpDatabases` recorded it: a directory directly inside the backup directory. */
export function checkBackupLocation(backupDir: string, location: unknown): string {
  const inside =
    typeof location === 'string' &&
    path.isAbsolute(location) &&
    path.dirname(location) === backupDir &&
    BACKUP_NAME.test(path.basename(location));
  if (!inside) {
    throw new InvalidActivityInput('backup.location', `a directory directly inside ${backupDir}`, String(location));
  }
  return location;
}

export async function readManifest(location: string): Promise<BackupManifest | undefined> {
  return readJson<BackupManifest>(path.join(location, MANIFEST_FILE));
}

export function createBackupActivities(deployment: Deployment) {
  const { role, verify, dump, dumpMigratedDatabases } = createDumpTools(deployment);
  const restore = createRestore(deployment);

  async function backUp({ backupId, fromVersion, toVersion }: BackupInput): Promise<BackupRecord> {
    const directory = backupDirectory(deployment.config.aegis.backupDir, backupId);
    const existing = await readManifest(directory);
    const user = await role();
    if (existing) {
      // A backup finished before a crash is kept, not taken twice.
      for (const file of existing.files) await verify(directory, file);
      return { location: directory, files: existing.files, role: user };
    }
    await privateDirectory(directory);
    const databases = (
      await deployment.psql(
        'postgres',
        "select datname from pg_database where datallowconn and not datistemplate and datname <> 'postgres' order by 1",
      )
    )
      .split('\n')
      .filter(Boolean);
    const startedAt = new Date().toISOString();
    // Side by side: the backup is on the upgrade's critical path, and each database is its own dump anyway.
    const files = await Promise.all([
      dump(directory, GLOBALS, ['pg_dumpall', '-U', user, '--globals-only']),
      ...databases.map((database) => dump(directory, dumpFileName(database), ['pg_dump', '-U', user, '-Fc', database])),
    ]);
    await Promise.all(files.map((file) => verify(directory, file)));
    const manifest: BackupManifest = {
      startedAt,
      createdAt: new Date().toISOString(),
      fromVersion,
      toVersion,
      images: await deployment.runningImages(),
      migrations: await readMigrations(deployment),
      files,
    };
    await writePrivateJson(path.join(directory, MANIFEST_FILE), manifest);
    return { location: directory, files, role: user };
  }

  /**
   * Stops every writer of the migrated databases, then dumps those databases again into `final/`: a rollback
   * restores these dumps, so nothing the old release wrote since the first backup is lost. The writers stay stopped
   * until the new runtime's migrations are judged (`resumeWriters`) or the rollback brings them back.
   */
  async function backUpFinal({ backup }: FinalBackupInput): Promise<BackupRecord> {
    const location = checkBackupLocation(deployment.config.aegis.backupDir, backup?.location);
    const manifest = await readManifest(location);
    if (!manifest) throw new BackupInvalid(`${path.join(location, MANIFEST_FILE)} is missing: take the backup first`);
    // Again on a retry: nothing has started them since, and a writer left running would make the dump stale.
    await stopWriters(deployment);
    if (!manifest.final) {
      manifest.final = await dumpMigratedDatabases(location, FINAL_DIRECTORY);
      await writePrivateJson(path.join(location, MANIFEST_FILE), manifest);
    } else {
      for (const file of manifest.final.files) await verify(location, file);
    }
    return { location, files: manifest.files, final: manifest.final, role: await role() };
  }

  return {
    async backUpDatabases(input: BackupInput): Promise<BackupRecord> {
      return heartbeatWhile(backUp(input), 'backing up');
    },
    async backUpFinal(input: FinalBackupInput): Promise<BackupRecord> {
      return heartbeatWhile(backUpFinal(input), 'stopping the writers, final dump');
    },
    async restoreDatabase({ backup, policy }: RestoreInput): Promise<RestoreResult> {
      const location = checkBackupLocation(deployment.config.aegis.backupDir, backup?.location);
      if (policy === 'never') return { restored: false, reason: 'restoreDatabase is never' };
      const manifest = await readManifest(location);
      if (!manifest) throw new BackupInvalid(`${path.join(location, MANIFEST_FILE)} is missing: cannot restore`);
      // The restore is the run's own: its retries resume it, a later run restores again (host/restore.ts).
      const runId = Context.current().info.workflowExecution?.runId;
      if (!runId) throw new InvalidActivityInput('workflowExecution', 'a workflow run to key the restore by', 'none');
      return heartbeatWhile(restore(location, manifest, policy, runId), 'restoring');
    },
  };
}

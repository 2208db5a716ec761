/**
 * A rollback's database restore, safe to run again from the start after a crash or a failure at any point: each
 * step looks at what is there before it acts, and nothing is destroyed before a verified copy of it exists.
 *
 * The state below is the run's own (`restores/<run>/` in the backup, the marker, A's name): a retry of the run resumes
 * it, and a later run naming the same backup (a second downgrade) restores again rather than finding it done.
 *
 * Per migrated database D (scratch S = `D__restoring`, set aside A = `D__pre_restore_<backup and run hash>`), the
 * steps, and what a retry finds when the try before stopped just after each:
 *
 * | # | step                                                    | a retry after a crash here                                 |
 * |---|---------------------------------------------------------|------------------------------------------------------------|
 * | 1 | decide (policy, `_sqlx_migrations` of D vs the backup)  | nothing recorded: decides again, D untouched               |
 * | 2 | record the decision in the run's `restore.json`         | reads it: never needs D to decide again                    |
 * | 3 | verify the dump to restore (size, SHA-256, pg_restore)  | verifies again                                             |
 * | 4 | stop every writer (`DATABASE_WRITERS`)                  | stops them again (a no-op)                                 |
 * | 5 | pg_dump D into the run's `pre-restore/D.dump.partial`   | no pre-restore manifest: dumps again over a fresh partial  |
 * | 6 | record the run's `pre-restore/manifest.json`            | verifies the pre-restore dump, goes on                     |
 * | 7 | drop S if it exists, create S                           | S exists unmarked: dropped and filled again                |
 * | 8 | pg_restore into S, in one transaction                   | S unmarked (empty or whole): dropped and filled again      |
 * | 9 | mark S complete (COMMENT ON DATABASE, this run)         | S marked: not filled again                                 |
 * |10 | end the sessions on D, rename D to A                    | D absent, S marked: only the second rename is left         |
 * |11 | end the sessions on S, rename S to D                    | D marked: the swap is done                                 |
 * |12 | drop A (its content is in the verified pre-restore dump)| A absent: `if exists`                                      |
 * |13 | record the restore's time in `restore.json`             | recorded: the same time is reported                        |
 *
 * Steps 7–9 touch only S: they run beside steps 4–6, and the renames (10, 11) wait for both. A rename needs D without
 * sessions: the writers are stopped (4) and the sessions left are ended first.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import {
  FINAL_DIRECTORY,
  MANIFEST_FILE,
  PRE_RESTORE_DIRECTORY,
  RESTORE_DECISION_FILE,
  restoreRunDirectory,
  restoreSourceName,
  restoringDatabase,
} from '../core/backup-layout';
import { MIGRATED_DATABASES } from '../core/platform';
import { settleAll } from '../core/settle-all';
import type { BackupFile, DatabaseRestore } from '../core/upgrade';
import type { BackupManifest } from '../activities/backup';
import type { Deployment } from './deployment';
import { createDumpTools, privateDirectory, readJson, writePrivateJson } from './dump-files';
import { BackupInvalid, RestoreBlocked } from '../core/errors';
import { readMigrations, sameMigrations } from '../activities/migrations';
import { stopWriters } from '../activities/writers';

export interface RestoreResult {
  restored: boolean;
  reason: string;
  restore?: DatabaseRestore;
}

/** Taken once, before anything is touched: a retry must not need the live database to decide again. */
interface RestoreDecision {
  decidedAt: string;
  restore: boolean;
  reason: string;
  restoredAt?: string;
}

interface PreRestoreManifest {
  takenAt: string;
  files: BackupFile[];
}

/** Name the live database carries between the two renames; unique per backup and run, so another's is never taken. */
export function setAsideDatabase(database: string, backupId: string, runId: string): string {
  const hash = createHash('sha256').update(`${backupId}/${runId}`).digest('hex');
  return `${database}__pre_restore_${hash.slice(0, 8)}`;
}

const ident = (name: string) => `"${name.replaceAll('"', '""')}"`;
const literal = (text: string) => `'${text.replaceAll("'", "''")}'`;

export function createRestore(deployment: Deployment) {
  const { exec, role, verify, dumpMigratedDatabases } = createDumpTools(deployment);
  const sql = (statement: string) => deployment.psql('postgres', statement);

  async function decide(location: string, runDirectory: string, manifest: BackupManifest, policy: 'auto' | 'always') {
    const file = path.join(location, runDirectory, RESTORE_DECISION_FILE);
    const recorded = await readJson<RestoreDecision>(file);
    if (recorded) return recorded;
    const schemaMoved = policy === 'always' || !sameMigrations(await readMigrations(deployment), manifest.migrations);
    const decision: RestoreDecision = {
      decidedAt: new Date().toISOString(),
      restore: schemaMoved,
      reason:
        policy === 'always'
          ? 'restoreDatabase is always'
          : schemaMoved
            ? '_sqlx_migrations changed: the schema moved'
            : '_sqlx_migrations unchanged: schema did not move',
    };
    await writePrivateJson(file, decision);
    return decision;
  }

  /** Which of `names` exist, each with whether it carries `marker` (a restore finished into it). */
  async function databasesNow(names: string[], marker: string): Promise<Map<string, boolean>> {
    const rows = await sql(
      `select datname || '|' || (coalesce(shobj_description(oid, 'pg_database'), '') = ${literal(marker)}) ` +
        `from pg_database where datname in (${names.map(literal).join(', ')})`,
    );
    return new Map(
      rows
        .split('\n')
        .filter(Boolean)
        .map((row) => {
          const [name = '', marked] = row.split('|');
          return [name, marked === 'true'] as const;
        }),
    );
  }

  /** The migrated databases as they are now, dumped and verified once; the swap never starts before this. */
  async function dumpBeforeRestore(location: string, runDirectory: string): Promise<PreRestoreManifest> {
    const directory = `${runDirectory}/${PRE_RESTORE_DIRECTORY}`;
    const manifestFile = path.join(location, directory, MANIFEST_FILE);
    const recorded = await readJson<PreRestoreManifest>(manifestFile);
    if (recorded) {
      for (const file of recorded.files) await verify(location, file);
      return recorded;
    }
    const manifest = await dumpMigratedDatabases(location, directory);
    await writePrivateJson(manifestFile, manifest);
    return manifest;
  }

  async function endSessions(database: string): Promise<void> {
    // With a timeout, pg_terminate_backend waits for the sessions to be gone: the rename right after needs none.
    await sql(
      `select count(pg_terminate_backend(pid, 10000)) from pg_stat_activity ` +
        `where datname = ${literal(database)} and pid <> pg_backend_pid()`,
    );
  }

  async function fillScratch(location: string, scratch: string, source: BackupFile, marker: string) {
    const user = await role();
    await sql(`drop database if exists ${ident(scratch)} with (force)`);
    await sql(`create database ${ident(scratch)} owner ${ident(user)}`);
    await exec(['pg_restore', '-U', user, '-d', scratch, '--single-transaction', '--exit-on-error', '--no-password'], {
      inputFile: path.join(location, source.name),
    });
    await sql(`comment on database ${ident(scratch)} is ${literal(marker)}`);
  }

  /** What marks the scratch copy of `source` as filled by this run. */
  function markerOf(location: string, runId: string, source: BackupFile): string {
    return `aegis-upgrade restored ${path.basename(location)}/${source.name} sha256:${source.sha256.slice(0, 16)} run ${runId}`;
  }

  /**
   * Fills the scratch copy of `database` unless a try before did, or the swap is already done. It touches only the
   * scratch database, so it runs while the writers stop and the live database is dumped.
   */
  async function prepareScratch(location: string, runId: string, database: string, source: BackupFile) {
    const marker = markerOf(location, runId, source);
    const scratch = restoringDatabase(database);
    const state = await databasesNow([database, scratch], marker);
    if (state.get(database) !== true && state.get(scratch) !== true) {
      await fillScratch(location, scratch, source, marker);
    }
  }

  /** Puts the dump in place of `database` by two renames, going on from whatever a try before left. */
  async function swapIn(location: string, runId: string, database: string, source: BackupFile): Promise<void> {
    const marker = markerOf(location, runId, source);
    const scratch = restoringDatabase(database);
    const aside = setAsideDatabase(database, path.basename(location), runId);
    const state = await databasesNow([database, scratch, aside], marker);
    if (state.get(database) !== true) {
      if (state.has(database) && state.has(aside)) {
        throw new RestoreBlocked(
          `${database} and ${aside} both exist: a restore was interrupted outside this upgrade; compare them, ` +
            `drop the one to discard, and retry`,
        );
      }
      if (state.get(scratch) !== true) await fillScratch(location, scratch, source, marker);
      if (state.has(database)) {
        await endSessions(database);
        await sql(`alter database ${ident(database)} rename to ${ident(aside)}`);
      }
      await endSessions(scratch);
      await sql(`alter database ${ident(scratch)} rename to ${ident(database)}`);
    }
    await sql(`drop database if exists ${ident(aside)} with (force)`);
  }

  /** Restores the migrated databases from the backup when `policy` (and the schema) says so, for the run `runId`. */
  return async function restore(
    location: string,
    manifest: BackupManifest,
    policy: 'auto' | 'always',
    runId: string,
  ): Promise<RestoreResult> {
    const runDirectory = restoreRunDirectory(runId);
    await privateDirectory(path.join(location, runDirectory));
    const decision = await decide(location, runDirectory, manifest, policy);
    if (!decision.restore) return { restored: false, reason: decision.reason };
    const dumps = [...manifest.files, ...(manifest.final?.files ?? [])];
    const sources = MIGRATED_DATABASES.map((database) => {
      const file = dumps.find((entry) => entry.name === restoreSourceName(manifest, database));
      if (!file) throw new BackupInvalid(`${location} holds no dump of ${database}: cannot restore`);
      return { database, file };
    });
    for (const { file } of sources) await verify(location, file);
    // The scratch copies fill while the writers stop and the live databases are dumped: the swap needs all of it.
    const [preRestore] = await settleAll([
      stopWriters(deployment).then(() => dumpBeforeRestore(location, runDirectory)),
      ...sources.map(({ database, file }) => prepareScratch(location, runId, database, file)),
    ]);
    for (const { database, file } of sources) await swapIn(location, runId, database, file);
    const restoredAt = decision.restoredAt ?? new Date().toISOString();
    if (!decision.restoredAt) {
      await writePrivateJson(path.join(location, runDirectory, RESTORE_DECISION_FILE), { ...decision, restoredAt });
    }
    const writersStopped = sources.every(({ file }) => file.name.startsWith(`${FINAL_DIRECTORY}/`));
    const dumpTakenAt = (writersStopped ? manifest.final?.takenAt : manifest.startedAt) ?? manifest.createdAt;
    const restore: DatabaseRestore = {
      databases: [...MIGRATED_DATABASES],
      dumps: sources.map(({ file }) => path.join(location, file.name)),
      dumpTakenAt,
      writersStopped,
      restoredAt,
      discardedWrites: { from: dumpTakenAt, to: restoredAt },
      preRestoreDumps: preRestore.files.map((file) => path.join(location, file.name)),
    };
    return {
      restored: true,
      reason:
        `${decision.reason}: restored ${restore.databases.join(', ')} from ${restore.dumps.join(', ')}; ` +
        `writes from ${dumpTakenAt} to ${restoredAt} discarded; the databases as they were: ` +
        restore.preRestoreDumps.join(', '),
      restore,
    };
  };
}

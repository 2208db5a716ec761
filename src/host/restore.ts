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
 * | 3 | check the dump's size and SHA-256 (pg_restore read it   | checks again                                               |
 * |   | when the backup was taken: the same bytes)              |                                                            |
 * | 4 | read D, S and A (exist? marked?) once: what is left     | reads again                                                |
 * | 5 | stop every writer (`DATABASE_WRITERS`)                  | stops them again (a no-op)                                 |
 * | 6 | pg_dump D into the run's `pre-restore/D.dump.partial`   | no pre-restore manifest: dumps again over a fresh partial  |
 * | 7 | record the run's `pre-restore/manifest.json`            | verifies the pre-restore dump, goes on                     |
 * | 8 | drop S if it exists, create S                           | S exists unmarked: dropped and filled again                |
 * | 9 | pg_restore into S, in one transaction                   | S unmarked (empty or whole): dropped and filled again      |
 * |10 | mark S complete (COMMENT ON DATABASE, this run)         | S marked: not filled again                                 |
 * |11 | end the sessions on D, rename D to A                    | D absent, S marked: only the second rename is left         |
 * |12 | end the sessions on S, rename S to D                    | D marked: the swap is done                                 |
 * |13 | drop A (its content is in the verified pre-restore dump)| A absent: `if exists`                                      |
 * |14 | record the restore's time in `restore.json`             | recorded: the same time is reported                        |
 *
 * Steps 8–9 touch only S: they run beside steps 5–7. Steps 10–13 are one psql call whose statements each commit on
 * their own, and wait for all of it. A rename needs D without sessions: the writers are stopped (5) and the sessions
 * left are ended first, PgBouncer's pooled server connections among them (it stays up: the writers reach PostgreSQL
 * through it); its next client gets a new connection, to the restored D. Each `podman exec` costs a rollback
 * 0.1–0.3 s: the statements go in as few calls as keep every state above one a retry can read.
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

/** One migrated database's restore: its names, its dump, and what a try before already did. */
interface DatabasePlan {
  database: string;
  file: BackupFile;
  /** What marks the scratch copy, then the live database, as filled from `file` by this run. */
  marker: string;
  scratch: string;
  aside: string;
  swapped: boolean;
  filled: boolean;
  liveExists: boolean;
}

interface PreRestoreManifest {
  takenAt: string;
  files: BackupFile[];
}

/** The three names one database's restore uses: the live one, its scratch copy, and the live one set aside. */
function restoreNames(location: string, runId: string, database: string) {
  return {
    database,
    scratch: restoringDatabase(database),
    aside: setAsideDatabase(database, path.basename(location), runId),
  };
}

/** Name the live database carries between the two renames; unique per backup and run, so another's is never taken. */
export function setAsideDatabase(database: string, backupId: string, runId: string): string {
  const hash = createHash('sha256').update(`${backupId}/${runId}`).digest('hex');
  return `${database}__pre_restore_${hash.slice(0, 8)}`;
}

const ident = (name: string) => `"${name.replaceAll('"', '""')}"`;
const literal = (text: string) => `'${text.replaceAll("'", "''")}'`;

export function createRestore(deployment: Deployment) {
  const { exec, role, verify, verifyChecksum, dumpMigratedDatabases } = createDumpTools(deployment);
  const sql = (statements: string | string[]) => deployment.psql('postgres', statements);

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

  /** The comment of each of `names` that exists ('' when it has none): a restore's marker, or not. */
  async function databasesNow(names: string[]): Promise<Map<string, string>> {
    const rows = await sql(
      `select datname || '|' || coalesce(shobj_description(oid, 'pg_database'), '') ` +
        `from pg_database where datname in (${names.map(literal).join(', ')})`,
    );
    return new Map(
      rows
        .split('\n')
        .filter(Boolean)
        .map((row) => [row.slice(0, row.indexOf('|')), row.slice(row.indexOf('|') + 1)] as const),
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

  /** Ends the sessions on `database`; with a timeout, pg_terminate_backend waits for them to be gone. */
  const endSessions = (database: string) =>
    `select count(pg_terminate_backend(pid, 10000)) from pg_stat_activity ` +
    `where datname = ${literal(database)} and pid <> pg_backend_pid()`;

  /** Fills the scratch database from the dump; it is marked complete only in the swap's first statement. */
  async function fillScratch(location: string, { scratch, file }: DatabasePlan) {
    const user = await role();
    await sql([
      `drop database if exists ${ident(scratch)} with (force)`,
      `create database ${ident(scratch)} owner ${ident(user)}`,
    ]);
    await exec(['pg_restore', '-U', user, '-d', scratch, '--single-transaction', '--exit-on-error', '--no-password'], {
      inputFile: path.join(location, file.name),
    });
  }

  /**
   * What is left to do for each database, from what a try before left: the swap done (the live database carries this
   * run's marker), the scratch copy filled (it carries it), or neither. Read once, before anything is touched.
   */
  function plan(
    location: string,
    runId: string,
    sources: { database: string; file: BackupFile }[],
    now: Map<string, string>,
  ): DatabasePlan[] {
    return sources.map(({ database, file }): DatabasePlan => {
      const names = restoreNames(location, runId, database);
      const marker = `aegis-upgrade restored ${path.basename(location)}/${file.name} sha256:${file.sha256.slice(0, 16)} run ${runId}`;
      const swapped = now.get(database) === marker;
      if (!swapped && now.has(database) && now.has(names.aside)) {
        throw new RestoreBlocked(
          `${database} and ${names.aside} both exist: a restore was interrupted outside this upgrade; compare them, ` +
            `drop the one to discard, and retry`,
        );
      }
      return {
        ...names,
        file,
        marker,
        swapped,
        filled: now.get(names.scratch) === marker,
        liveExists: now.has(database),
      };
    });
  }

  /**
   * The swap, as one psql call of statements that each commit on their own, so that a retry after any of them finds a
   * state `plan` reads: the scratch copy marked complete, the live database set aside, the copy renamed in its place,
   * the set-aside database dropped (its content is in the verified pre-restore dump).
   */
  function swapStatements({ database, scratch, aside, marker, swapped, liveExists }: DatabasePlan): string[] {
    const drop = `drop database if exists ${ident(aside)} with (force)`;
    if (swapped) return [drop];
    return [
      `comment on database ${ident(scratch)} is ${literal(marker)}`,
      ...(liveExists ? [endSessions(database), `alter database ${ident(database)} rename to ${ident(aside)}`] : []),
      endSessions(scratch),
      `alter database ${ident(scratch)} rename to ${ident(database)}`,
      drop,
    ];
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
    // What is there is read beside the decision (read-only): the restore, when decided, starts from it.
    const [decision, now] = await settleAll([
      decide(location, runDirectory, manifest, policy),
      databasesNow(MIGRATED_DATABASES.flatMap((database) => Object.values(restoreNames(location, runId, database)))),
    ]);
    if (!decision.restore) return { restored: false, reason: decision.reason };
    const dumps = [...manifest.files, ...(manifest.final?.files ?? [])];
    const sources = MIGRATED_DATABASES.map((database) => {
      const file = dumps.find((entry) => entry.name === restoreSourceName(manifest, database));
      if (!file) throw new BackupInvalid(`${location} holds no dump of ${database}: cannot restore`);
      return { database, file };
    });
    // Each dump was read by pg_restore when the backup was taken: the same size and checksum mean the same file.
    await Promise.all(sources.map(({ file }) => verifyChecksum(location, file)));
    const plans = plan(location, runId, sources, now);
    // The scratch copies fill while the writers stop and the live databases are dumped: the swap needs all of it.
    const [preRestore] = await settleAll([
      stopWriters(deployment).then(() => dumpBeforeRestore(location, runDirectory)),
      ...plans.filter((entry) => !entry.swapped && !entry.filled).map((entry) => fillScratch(location, entry)),
    ]);
    await sql(plans.flatMap(swapStatements));
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

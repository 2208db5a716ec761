import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { DATABASE_CONTAINER, RUNTIME_DATABASE, podFullName } from '../platform';
import type { BackupRecord, RestoreDatabasePolicy } from '../upgrade';
import type { Deployment } from './deployment';
import { writeFileAtomic } from './env-file';
import { BackupInvalid, InvalidActivityInput } from './errors';
import { heartbeatWhile } from './heartbeat';
import { readMigrations, sameMigrations, type MigrationRow } from './migrations';

const MANIFEST = 'manifest.json';
const GLOBALS = 'globals.sql';
/** A dump of a large database takes a while; one that takes longer than this is stuck. */
const DUMP_TIMEOUT_MS = 60 * 60_000;

export interface BackupInput {
  /** Directory name under the backup directory, unique to the upgrade, e.g. `20261126T031500Z-1.2.0-to-1.3.0`. */
  backupId: string;
  fromVersion: string;
  toVersion: string;
}

interface BackupManifest {
  createdAt: string;
  fromVersion: string;
  toVersion: string;
  images: Record<string, string>;
  migrations: MigrationRow[];
  files: BackupRecord['files'];
}

export interface RestoreInput {
  backup: BackupRecord;
  policy: RestoreDatabasePolicy;
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

/** The versions and files a backup's manifest records; undefined when it has none (no finished backup there). */
export async function readBackupManifest(
  directory: string,
): Promise<Pick<BackupManifest, 'fromVersion' | 'toVersion' | 'files'> | undefined> {
  try {
    return JSON.parse(await fs.readFile(path.join(directory, MANIFEST), 'utf8')) as BackupManifest;
  } catch {
    return undefined;
  }
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

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export function createBackupActivities(deployment: Deployment) {
  const exec = (args: string[], options?: { inputFile?: string; outputFile?: string }) =>
    deployment.podman(['exec', ...(options?.inputFile ? ['-i'] : []), DATABASE_CONTAINER, ...args], {
      ...options,
      timeoutMs: DUMP_TIMEOUT_MS,
    });
  const user = async () => (await deployment.env()).get('POSTGRES_USER') ?? 'aegis';

  /** Checks a dump as `pg_restore` reads it, and that it is the file the manifest describes. */
  async function verify(directory: string, file: BackupRecord['files'][number]): Promise<void> {
    const location = path.join(directory, file.name);
    const stat = await fs.stat(location).catch(() => undefined);
    if (!stat || stat.size === 0 || stat.size !== file.bytes)
      throw new BackupInvalid(`${location} is missing or empty`);
    if ((await sha256(location)) !== file.sha256) throw new BackupInvalid(`${location} does not match its checksum`);
    if (file.name.endsWith('.dump')) await exec(['pg_restore', '--list'], { inputFile: location });
  }

  async function readManifest(directory: string): Promise<BackupManifest | undefined> {
    try {
      return JSON.parse(await fs.readFile(path.join(directory, MANIFEST), 'utf8')) as BackupManifest;
    } catch {
      return undefined;
    }
  }

  async function dump(directory: string, name: string, args: string[]): Promise<BackupRecord['files'][number]> {
    const final = path.join(directory, name);
    const partial = `${final}.partial`;
    await exec(args, { outputFile: partial });
    await fs.rename(partial, final);
    return { name, bytes: (await fs.stat(final)).size, sha256: await sha256(final) };
  }

  async function backUp({ backupId, fromVersion, toVersion }: BackupInput): Promise<BackupRecord> {
    const directory = backupDirectory(deployment.config.aegis.backupDir, backupId);
    const existing = await readManifest(directory);
    if (existing) {
      // A backup finished before a crash is kept, not taken twice.
      for (const file of existing.files) await verify(directory, file);
      return { location: directory, files: existing.files };
    }
    await fs.mkdir(directory, { recursive: true, mode: 0o700 });
    const role = await user();
    const databases = (
      await deployment.psql(
        'postgres',
        "select datname from pg_database where datallowconn and not datistemplate and datname <> 'postgres' order by 1",
      )
    )
      .split('\n')
      .filter(Boolean);
    const files = [await dump(directory, GLOBALS, ['pg_dumpall', '-U', role, '--globals-only'])];
    for (const database of databases) {
      files.push(await dump(directory, `${database}.dump`, ['pg_dump', '-U', role, '-Fc', database]));
    }
    for (const file of files) await verify(directory, file);
    const manifest: BackupManifest = {
      createdAt: new Date().toISOString(),
      fromVersion,
      toVersion,
      images: await deployment.runningImages(),
      migrations: await readMigrations(deployment),
      files,
    };
    await writeFileAtomic(path.join(directory, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    return { location: directory, files };
  }

  async function restore({ backup, policy }: RestoreInput): Promise<{ restored: boolean; reason: string }> {
    const location = checkBackupLocation(deployment.config.aegis.backupDir, backup?.location);
    if (policy === 'never') return { restored: false, reason: 'restoreDatabase is never' };
    const manifest = await readManifest(location);
    if (!manifest) throw new BackupInvalid(`${location}/${MANIFEST} is missing: cannot restore`);
    const now = await readMigrations(deployment);
    if (policy === 'auto' && sameMigrations(now, manifest.migrations)) {
      return { restored: false, reason: '_sqlx_migrations unchanged: schema did not move' };
    }
    const file = manifest.files.find((entry) => entry.name === `${RUNTIME_DATABASE}.dump`);
    if (!file) throw new BackupInvalid(`${location} holds no dump of ${RUNTIME_DATABASE}`);
    await verify(location, file);
    const role = await user();
    // The runtime writes to the database: stop it; the rollback redeploys it with the previous image.
    await deployment.podman(['pod', 'stop', '--ignore', podFullName('core')]);
    await deployment.psql('postgres', `drop database if exists ${RUNTIME_DATABASE} with (force)`);
    await deployment.psql('postgres', `create database ${RUNTIME_DATABASE} owner ${role}`);
    await exec(
      ['pg_restore', '-U', role, '-d', RUNTIME_DATABASE, '--single-transaction', '--exit-on-error', '--no-password'],
      { inputFile: path.join(location, file.name) },
    );
    return { restored: true, reason: `restored ${RUNTIME_DATABASE} from ${path.join(location, file.name)}` };
  }

  return {
    async backUpDatabases(input: BackupInput): Promise<BackupRecord> {
      return heartbeatWhile(backUp(input), 'backing up');
    },
    async restoreDatabase(input: RestoreInput): Promise<{ restored: boolean; reason: string }> {
      return heartbeatWhile(restore(input), 'restoring');
    },
  };
}

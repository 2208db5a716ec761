import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { dumpFileName } from '../core/backup-layout';
import { DATABASE_CONTAINER, MIGRATED_DATABASES } from '../core/platform';
import type { BackupFile } from '../core/upgrade';
import type { CommandOptions } from './command';
import type { Deployment } from './deployment';
import { databaseRole, writeFileAtomic } from './env-file';
import { BackupInvalid } from '../core/errors';

/** A dump of a large database takes a while; one that takes longer than this is stuck. */
const DUMP_TIMEOUT_MS = 60 * 60_000;

/** No backup file or directory is readable by group or others: dumps hold every secret the platform stores. */
const PRIVATE_FILE = 0o600;
const PRIVATE_DIRECTORY = 0o700;

export async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Creates the directory (and its parents) owner-only; an existing one is made owner-only too. */
export async function privateDirectory(directory: string): Promise<void> {
  await fs.mkdir(directory, { recursive: true, mode: PRIVATE_DIRECTORY });
  // The mode given to mkdir is cut by the umask, and an existing directory keeps its own: set it.
  await fs.chmod(directory, PRIVATE_DIRECTORY);
}

/** A file name a manifest lists, resolved inside `directory`; a name that leaves it is a broken backup. */
export function fileInside(directory: string, name: string): string {
  const location = path.resolve(directory, name);
  if (!location.startsWith(`${directory}${path.sep}`)) throw new BackupInvalid(`${name} is not inside ${directory}`);
  return location;
}

export async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

export async function writePrivateJson(file: string, value: unknown): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
  await fs.chmod(file, PRIVATE_FILE);
}

/** Dumps and checks dumps with the client tools inside the database container (same major version as the server). */
export function createDumpTools(deployment: Deployment) {
  const exec = (args: string[], options?: Pick<CommandOptions, 'inputFile' | 'outputFile'>) =>
    deployment.podman(['exec', ...(options?.inputFile ? ['-i'] : []), DATABASE_CONTAINER, ...args], {
      ...options,
      timeoutMs: DUMP_TIMEOUT_MS,
    });
  const role = async () => databaseRole(await deployment.env());

  /** Checks that a dump is the file the manifest describes: its size and SHA-256. */
  async function verifyChecksum(directory: string, file: BackupFile): Promise<string> {
    const location = fileInside(directory, file.name);
    const stat = await fs.stat(location).catch(() => undefined);
    if (!stat || stat.size === 0 || stat.size !== file.bytes) {
      throw new BackupInvalid(`${location} is missing or empty`);
    }
    if ((await sha256(location)) !== file.sha256) throw new BackupInvalid(`${location} does not match its checksum`);
    return location;
  }

  /** Checks a dump as `pg_restore` reads it, and that it is the file the manifest describes. */
  async function verify(directory: string, file: BackupFile): Promise<void> {
    const location = await verifyChecksum(directory, file);
    if (file.name.endsWith('.dump')) await exec(['pg_restore', '--list'], { inputFile: location });
  }

  /** Streams a dump into `<name>.partial` (owner-only from its creation), then renames it: a crash leaves no `name`. */
  async function dump(directory: string, name: string, args: string[]): Promise<BackupFile> {
    const final = fileInside(directory, name);
    const partial = `${final}.partial`;
    // A partial of a crashed try may carry another mode: start afresh, created 0600 before any byte is written.
    await fs.rm(partial, { force: true });
    await (await fs.open(partial, 'wx', PRIVATE_FILE)).close();
    await exec(args, { outputFile: partial });
    await fs.chmod(partial, PRIVATE_FILE);
    await fs.rename(partial, final);
    return { name, bytes: (await fs.stat(final)).size, sha256: await sha256(final) };
  }

  /**
   * Every migrated database as it is now, dumped into `subdirectory` of the backup (owner-only) and verified: the
   * final dump of an upgrade and the dump taken before a restore are made alike.
   */
  async function dumpMigratedDatabases(
    location: string,
    subdirectory: string,
  ): Promise<{ takenAt: string; files: BackupFile[] }> {
    await privateDirectory(path.join(location, subdirectory));
    const user = await role();
    const takenAt = new Date().toISOString();
    const files = await Promise.all(
      MIGRATED_DATABASES.map((database) =>
        dump(location, `${subdirectory}/${dumpFileName(database)}`, ['pg_dump', '-U', user, '-Fc', database]),
      ),
    );
    await Promise.all(files.map((file) => verify(location, file)));
    return { takenAt, files };
  }

  return { exec, role, verify, verifyChecksum, dump, dumpMigratedDatabases };
}

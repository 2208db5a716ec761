/**
 * What a major PostgreSQL upgrade (postgres-major.ts) needs before anything stops: every extension the cluster uses,
 * in the target image, and room for the plain dump, its copy for the restore, and the new cluster beside the old one
 * (a sibling directory, or a new named volume where podman keeps the old one).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { isNamedVolume, type ClusterStorage } from '../core/cluster-storage';
import { DATABASE_CONTAINER } from '../core/platform';
import type { Deployment } from './deployment';
import { PreflightFailed } from '../core/errors';
import { heartbeatWhile } from './heartbeat';

/** An image keeps each extension as `<sharedir>/extension/<name>.control`, wherever its build put sharedir. */
const CONTROL_FILES = '*/extension/*.control';

/** Bytes to put in one directory, and what they are for. */
export interface SpaceNeed {
  what: string;
  directory: string;
  bytes: number;
}

/** A need with the filesystem that holds its directory: `id` the device, `freeBytes` what an unprivileged user gets. */
export type MeasuredNeed = SpaceNeed & { filesystem: { id: number; freeBytes: number } };

const GB = 1024 ** 3;
const size = (bytes: number) => `${(bytes / GB).toFixed(bytes < GB ? 2 : 1)} GiB`;

/** One line per filesystem whose needs, added together, exceed its free space. */
export function spaceShortfalls(needs: readonly MeasuredNeed[]): string[] {
  const byFilesystem = new Map<number, MeasuredNeed[]>();
  for (const need of needs)
    byFilesystem.set(need.filesystem.id, [...(byFilesystem.get(need.filesystem.id) ?? []), need]);
  return [...byFilesystem.values()].flatMap((group) => {
    const total = group.reduce((sum, need) => sum + need.bytes, 0);
    const free = group[0]?.filesystem.freeBytes ?? 0;
    if (total <= free) return [];
    const parts = group.map((need) => `${need.what} in ${need.directory} ${size(need.bytes)}`).join(', ');
    return [`about ${size(total)} needed (${parts}), ${size(free)} free`];
  });
}

/** The filesystem `directory` will be on: that of its nearest existing ancestor. */
async function filesystemOf(directory: string): Promise<MeasuredNeed['filesystem']> {
  let existing = directory;
  while (!(await fs.stat(existing).catch(() => undefined)) && path.dirname(existing) !== existing) {
    existing = path.dirname(existing);
  }
  const [stat, statfs] = await Promise.all([fs.stat(existing), fs.statfs(existing)]);
  return { id: stat.dev, freeBytes: statfs.bavail * statfs.bsize };
}

/** The image `tag` of the repository the database container runs now (`…/postgres:15-alpine` → `…/postgres:16-alpine`). */
async function targetImage(deployment: Deployment, tag: string): Promise<string> {
  const running = (
    await deployment.podman(['container', 'inspect', '--format', '{{.ImageName}}', DATABASE_CONTAINER])
  ).stdout.trim();
  const tagAt = running.lastIndexOf(':');
  const repository = tagAt > running.lastIndexOf('/') ? running.slice(0, tagAt) : running;
  return `${repository}:${tag}`;
}

/** What a disk check is told of the new cluster: its directory (as before named volumes), or both storages. */
export type NewClusterPlace =
  { newDataDirectory: string } | { dataStorage: ClusterStorage; newDataStorage: ClusterStorage };

/**
 * The directory the new cluster will be written in: a directory's parent, or for a named volume the directory podman
 * keeps the old volume's siblings in (`podman volume inspect`'s Mountpoint is `<volumes>/<name>/_data`).
 */
export async function newClusterHome(deployment: Deployment, place: NewClusterPlace): Promise<string> {
  const fresh = 'newDataDirectory' in place ? { directory: place.newDataDirectory } : place.newDataStorage;
  if (!isNamedVolume(fresh)) return path.dirname(fresh.directory);
  const old = 'dataStorage' in place && isNamedVolume(place.dataStorage) ? place.dataStorage.volume : fresh.volume;
  const { stdout } = await deployment.podman(['volume', 'inspect', '--format', '{{.Mountpoint}}', old]);
  const mountpoint = stdout.trim();
  if (!path.isAbsolute(mountpoint)) {
    throw new PreflightFailed(
      `podman shows no mount point for the named volume ${old} (\`podman volume inspect\`: \`${mountpoint}\`): a volume ` +
        'of another driver; the free space for the new cluster beside it cannot be measured; nothing was changed',
    );
  }
  return path.dirname(path.dirname(mountpoint));
}

export function createPostgresMajorChecks(deployment: Deployment) {
  /** Each extension created in a database of the cluster, with the databases it is in. */
  async function extensionsInUse(): Promise<Map<string, string[]>> {
    const databases = await deployment.query<{ datname: string }>(
      'select datname from pg_database where datallowconn order by 1',
      'postgres',
    );
    const found = new Map<string, string[]>();
    for (const { datname } of databases) {
      for (const { extname } of await deployment.query<{ extname: string }>(
        'select extname from pg_extension',
        datname,
      )) {
        found.set(extname, [...(found.get(extname) ?? []), datname]);
      }
    }
    return found;
  }

  /** The extensions `image` ships, read from its control files by running it. */
  async function extensionsOf(image: string): Promise<Set<string>> {
    const { stdout } = await heartbeatWhile(
      deployment.podman(['run', '--rm', '--entrypoint', 'find', image, '/', '-xdev', '-path', CONTROL_FILES]),
      `listing the extensions of ${image}`,
    );
    const names = new Set(
      stdout
        .split('\n')
        .filter(Boolean)
        .map((file) => path.basename(file.trim(), '.control')),
    );
    if (names.size === 0) {
      throw new PreflightFailed(
        `Found no extension control files (${CONTROL_FILES}) in ${image}: cannot tell whether it has the extensions ` +
          'the cluster uses. Check the image; nothing was changed',
      );
    }
    return names;
  }

  return {
    /** Refuses when the target image lacks an extension a database uses: its restore would fail half-way. */
    async checkExtensions(tag: string): Promise<string> {
      const image = await targetImage(deployment, tag);
      const available = await extensionsOf(image);
      const inUse = await extensionsInUse();
      const missing = [...inUse].filter(([name]) => !available.has(name));
      if (missing.length > 0) {
        const listed = missing.map(([name, databases]) => `${name} (in ${databases.join(', ')})`).join(', ');
        throw new PreflightFailed(
          `${image} lacks extensions the cluster uses: ${listed}. Use an image that has them, or drop them from ` +
            'those databases first; nothing was changed',
        );
      }
      return `Extensions: ${[...inUse.keys()].sort().join(', ')} all in ${image}`;
    },

    /** Refuses when the dump, its copy for the restore and the new cluster would not fit, estimated from the cluster. */
    async checkDiskSpace(place: NewClusterPlace): Promise<string> {
      const [row] = await deployment.query<{ bytes: string }>(
        'select sum(pg_database_size(oid))::bigint as bytes from pg_database',
        'postgres',
      );
      const bytes = Number(row?.bytes ?? 0);
      const backupDir = deployment.config.aegis.backupDir;
      const needs: SpaceNeed[] = [
        { what: 'the plain dump', directory: backupDir, bytes },
        { what: 'its copy for the restore', directory: backupDir, bytes },
        { what: 'the new cluster', directory: await newClusterHome(deployment, place), bytes },
      ];
      const measured = await Promise.all(
        needs.map(async (need) => ({ ...need, filesystem: await filesystemOf(need.directory) })),
      );
      const shortfalls = spaceShortfalls(measured);
      if (shortfalls.length > 0) {
        throw new PreflightFailed(
          `Not enough free disk for the major upgrade of a ${size(bytes)} cluster (pg_database_size): ` +
            `${shortfalls.join('; ')}. Free space there first; nothing was changed`,
        );
      }
      return `Disk: room for the dump, its copy and the new cluster (${size(bytes)} each, estimated)`;
    },
  };
}

/**
 * The platform's PostgreSQL as an upgrade needs it: reachable, recent enough, its extensions, PgBouncer before it,
 * and room for the backup. Pre-flight asks the same (`postgresVersionCheck`, `backupSpaceCheck`).
 */
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { COMPATIBILITY } from '../../core/components';
import { blocking, notApplicable, passed, type DoctorCheck } from '../../core/doctor';
import { formatMiB } from '../../core/format';
import { podFullName } from '../../core/platform';
import type { Deployment } from '../deployment';
import {
  containerImages,
  makeVariables,
  namesRepository,
  publishedPort,
  readPodDefinition,
  type PodDefinition,
} from '../pod-definitions';
import { LOOK_TIMEOUT_MS, guarded, type LiveContext } from './context';

const DATABASE_FIX =
  'the database pod must run (make redeploy POD=database), and AEGIS_POSTGRES_HOST/PORT reach it with POSTGRES_USER and POSTGRES_PASSWORD of .env';

export interface PostgresVersion {
  /** `server_version_num`, e.g. 150008. */
  number: number;
  /** `server_version`, e.g. `15.8`. */
  text: string;
}

/** Asked over the network, as the upgrade asks it; a database that does not answer throws. */
export async function readPostgresVersion(deployment: Deployment): Promise<PostgresVersion> {
  const [row] = await deployment.query<{ server_version_num: string; server_version: string }>(
    "select current_setting('server_version_num') as server_version_num, current_setting('server_version') as server_version",
  );
  return { number: Number(row?.server_version_num), text: String(row?.server_version) };
}

export function postgresVersionCheck({ number, text }: PostgresVersion): DoctorCheck {
  const required = `${COMPATIBILITY.postgresMinMajor}+ required`;
  if (Math.floor(number / 10_000) < COMPATIBILITY.postgresMinMajor) {
    return blocking(
      'PostgreSQL',
      `${text} is too old: AEGIS needs ${COMPATIBILITY.postgresMinMajor}+`,
      `upgrade it first: aegis-upgrade component start postgres ${COMPATIBILITY.postgresMinMajor}`,
    );
  }
  return passed('PostgreSQL', `${text} (${required})`);
}

export const checkPostgres = ({ deployment }: LiveContext) =>
  guarded('PostgreSQL', DATABASE_FIX, async () => postgresVersionCheck(await readPostgresVersion(deployment)));

/** Each database's extensions, read with psql in the database container, as backups and restores reach it. */
export const checkExtensions = ({ deployment }: LiveContext) =>
  guarded('PostgreSQL extensions', DATABASE_FIX, async () => {
    const databases = (
      await deployment.psql('postgres', 'select datname from pg_database where datallowconn order by 1')
    )
      .split('\n')
      .filter(Boolean);
    const listed = await Promise.all(
      databases.map(async (database) => {
        const names = await deployment.psql(
          database,
          "select coalesce(string_agg(extname, ', ' order by extname), '') from pg_extension",
        );
        return `${database}: ${names.trim() || 'none'}`;
      }),
    );
    return passed('PostgreSQL extensions', listed.join('; '));
  });

/** Room for a backup: what the databases hold, at most, against the free space of the backup directory. */
export interface BackupSpace {
  backupDir: string;
  freeBytes: number;
  databaseBytes: number;
}

export async function measureBackupSpace(deployment: Deployment): Promise<BackupSpace> {
  const backupDir = deployment.config.aegis.backupDir;
  const [row] = await deployment.query<{ bytes: string }>(
    'select coalesce(sum(pg_database_size(datname)), 0) as bytes from pg_database where not datistemplate',
  );
  // Nothing is created to measure: the space is that of the backup directory, or of its nearest existing parent.
  let directory = backupDir;
  while (!(await fs.stat(directory).catch(() => undefined)) && path.dirname(directory) !== directory) {
    directory = path.dirname(directory);
  }
  const disk = await fs.statfs(directory);
  return { backupDir, freeBytes: disk.bavail * disk.bsize, databaseBytes: Number(row?.bytes ?? 0) };
}

export function backupSpaceCheck({ backupDir, freeBytes, databaseBytes }: BackupSpace): DoctorCheck {
  // Compressed dumps are smaller than the databases: their full size is a safe upper bound.
  if (freeBytes < databaseBytes) {
    return blocking(
      'Disk',
      `not enough space for the backup in ${backupDir}: ${formatMiB(freeBytes)} free, up to ${formatMiB(databaseBytes)} needed`,
      'free space there, or set AEGIS_BACKUP_DIR to a filesystem with room',
    );
  }
  return passed('Disk', `${formatMiB(freeBytes)} free for a backup of at most ${formatMiB(databaseBytes)}`);
}

export const checkBackupSpace = ({ deployment }: LiveContext) =>
  guarded('Disk', DATABASE_FIX, async () => backupSpaceCheck(await measureBackupSpace(deployment)));

/** The PgBouncer container of the database pod's definition, and the host port it listens on, if any. */
export function pgbouncerOf(definition: PodDefinition): { container: string; hostPort?: number } | undefined {
  const image = containerImages(definition).find(
    (candidate) => namesRepository(candidate.name, 'pgbouncer') || candidate.container === 'pgbouncer',
  );
  if (!image) return undefined;
  const spec = definition.document.toJS() as {
    spec?: { containers?: { name?: string; ports?: { containerPort?: unknown }[] }[] };
  };
  const ports = spec.spec?.containers?.find((container) => container.name === image.container)?.ports ?? [];
  const published = ports
    .map((port) => publishedPort(definition, Number(port.containerPort)))
    .find((port) => port !== undefined);
  return { container: image.container, ...(published && { hostPort: published.hostPort }) };
}

function acceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port, timeout: 5_000 });
    const end = (accepted: boolean) => {
      socket.destroy();
      resolve(accepted);
    };
    socket.once('connect', () => end(true));
    socket.once('error', () => end(false));
    socket.once('timeout', () => end(false));
  });
}

/** PgBouncer, where the database pod runs one: its container running, its port taking connections. */
export const checkPgBouncer = ({ deployment, pods }: Pick<LiveContext, 'deployment' | 'pods'>) =>
  guarded('PgBouncer', DATABASE_FIX, async () => {
    if (!pods.includes('database')) return notApplicable('PgBouncer', 'the profile runs no database pod');
    const definition = await readPodDefinition(deployment.root, 'database', makeVariables(await deployment.env()));
    const pgbouncer = pgbouncerOf(definition);
    if (!pgbouncer) {
      return notApplicable(
        'PgBouncer',
        "pod database's definition runs none: its clients connect to PostgreSQL directly",
      );
    }
    const container = `${podFullName('database')}-${pgbouncer.container}`;
    const { stdout } = await deployment.podman(['container', 'inspect', '--format', '{{.State.Status}}', container], {
      timeoutMs: LOOK_TIMEOUT_MS,
    });
    if (stdout.trim() !== 'running') {
      return blocking('PgBouncer', `${container} is ${stdout.trim()}`, 'make redeploy POD=database');
    }
    if (pgbouncer.hostPort === undefined) return passed('PgBouncer', `${container} running (no host port published)`);
    if (!(await acceptsConnections(pgbouncer.hostPort))) {
      return blocking(
        'PgBouncer',
        `${container} runs, but 127.0.0.1:${pgbouncer.hostPort} takes no connection`,
        `podman logs ${container}; then make redeploy POD=database`,
      );
    }
    return passed('PgBouncer', `${container} running; 127.0.0.1:${pgbouncer.hostPort} takes connections`);
  });

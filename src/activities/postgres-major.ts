/**
 * A major PostgreSQL upgrade's data step: the old cluster dumped whole with its clients stopped, the new major started on
 * fresh storage beside the old (a sibling directory, or a new named volume), the dump restored there and compared table
 * by table.
 *
 * Restore of a dump, not `pg_upgrade --copy`: pg_upgrade needs both majors' binaries and both data directories in one
 * filesystem, while each major here is its own image; a dump is written by the old major's `pg_dumpall` inside the old
 * container and read by the new major's `psql` inside the new one, with nothing but a file between them. It is slower
 * on large clusters, and the platform's are small. The old directory or volume is never written after the clients
 * stopped and never deleted: the rollback points the pod back at it.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { DATABASE_CLIENT_PODS, DATABASE_CONTAINER, STOPPED_CLIENTS_FILE, podFullName } from '../core/platform';
import type { BackupFile } from '../core/upgrade';
import { backupDirectory, checkBackupLocation } from './backup';
import { checkClusterStorage, databaseClusterStorage } from './component-tags';
import { isNamedVolume, sameClusterStorage, storageName, type ClusterStorage } from '../core/cluster-storage';
import type { Deployment } from '../host/deployment';
import { createDumpTools, privateDirectory, readJson, writePrivateJson } from '../host/dump-files';
import { writeFileAtomic } from '../host/env-file';
import { InvalidActivityInput, RestoreBlocked, ValidationFailed } from '../core/errors';
import { heartbeatWhile } from '../host/heartbeat';
import { readPodDefinition } from '../host/pod-definitions';
import {
  describeFingerprint,
  fingerprintCluster,
  fingerprintDifferences,
  type ClusterFingerprint,
} from '../host/table-checksums';
import { createPodProbes } from './pods';

const CLUSTER_DUMP = 'cluster.sql';
const RESTORE_SCRIPT = 'cluster.restore.sql';
const FINGERPRINT_FILE = 'fingerprint.json';
const RESTORED_FILE = 'restored.json';
const STOP_SECONDS = 30;
/** A restore of the whole cluster; one that takes longer than this is stuck. */
const RESTORE_TIMEOUT_MS = 2 * 60 * 60_000;

/** The old cluster, dumped whole, and what its tables held when it was. */
export interface ClusterDump {
  location: string;
  file: BackupFile;
  takenAt: string;
  /** e.g. `3 databases, 41 tables (12345 rows), 2 roles`. */
  summary: string;
}

/** A `CREATE ROLE x;` line of pg_dumpall: a retried restore, and the new cluster's own superuser, find it there. */
const CREATE_ROLE = /^CREATE ROLE (.+);$/;
/**
 * `\restrict`/`\unrestrict`, which pg_dumpall writes since 15.14/16.10 and an older psql refuses: they only guard an
 * interactive psql against a crafted dump, and this one is ours.
 */
const RESTRICT = /^\\(?:un)?restrict\b/;

/** The dump as the new major's psql runs it: every role created if absent, the restrict meta-commands left out. */
export function restoreLine(line: string): string | undefined {
  if (RESTRICT.test(line)) return undefined;
  const role = CREATE_ROLE.exec(line)?.[1];
  return role ? `DO $$BEGIN CREATE ROLE ${role}; EXCEPTION WHEN duplicate_object THEN NULL; END$$;` : line;
}

export function createPostgresMajorActivities(deployment: Deployment) {
  const { role, dump, verify } = createDumpTools(deployment);
  const probes = createPodProbes(deployment);
  const clientsFile = path.join(deployment.root, STOPPED_CLIENTS_FILE);
  const liveStorage = async () => databaseClusterStorage(await readPodDefinition(deployment.root, 'database'));

  async function readFingerprint(location: string): Promise<ClusterFingerprint> {
    const fingerprint = await readJson<ClusterFingerprint>(path.join(location, FINGERPRINT_FILE));
    if (!fingerprint) throw new InvalidActivityInput('dump.location', 'a cluster dump with its fingerprint', location);
    return fingerprint;
  }

  /** Those of `among`, the database's client pods, that the profile deploys and one of whose containers `matches`. */
  async function clientPods(matches: (state: string) => boolean, among = DATABASE_CLIENT_PODS): Promise<string[]> {
    const found = [];
    for (const pod of among) {
      const state = await probes.inspectPod(pod);
      if (state?.containers.some((container) => matches(container.state))) found.push(pod);
    }
    return found;
  }

  return {
    /**
     * Stops every pod of the profile that connects to the database and runs; the pods are recorded first (added to an
     * earlier record), so `startDatabaseClients` starts those again. Returns them.
     */
    async stopDatabaseClients(): Promise<string[]> {
      const recorded = (await readJson<string[]>(clientsFile)) ?? [];
      const running = await clientPods((state) => state === 'running');
      const pods = [...new Set([...recorded, ...running])];
      await writeFileAtomic(clientsFile, `${JSON.stringify(pods)}\n`);
      if (running.length > 0) {
        await heartbeatWhile(
          deployment.podman(['pod', 'stop', '--ignore', '-t', String(STOP_SECONDS), ...running.map(podFullName)]),
          `stopping ${running.join(', ')}`,
        );
      }
      return pods;
    },

    /**
     * Starts the client pods `stopDatabaseClients` stopped, and every other client pod of the profile with a container
     * that does not run: pre-flight found them all running, so one whose process has exited since (a runtime that
     * would not start on the new cluster) was not running when a rollback stopped the clients again, and must come
     * back all the same. Forgets the record. Returns the pods started.
     */
    async startDatabaseClients(): Promise<string[]> {
      const recorded = (await readJson<string[]>(clientsFile)) ?? [];
      const others = DATABASE_CLIENT_PODS.filter((pod) => !recorded.includes(pod));
      const pods = [...recorded, ...(await clientPods((state) => state !== 'running', others))];
      if (pods.length > 0) {
        await heartbeatWhile(
          deployment.podman(['pod', 'start', ...pods.map(podFullName)]),
          `starting ${pods.join(', ')}`,
        );
      }
      await fs.rm(clientsFile, { force: true });
      return pods;
    },

    /** pg_dumpall with the old major's tools, and every table's fingerprint; a dump finished before a crash is kept. */
    async dumpCluster({ backupId }: { backupId: string }): Promise<ClusterDump> {
      const location = backupDirectory(deployment.config.aegis.backupDir, backupId);
      const done = await readJson<ClusterDump>(path.join(location, 'manifest.json'));
      if (done) {
        await verify(location, done.file);
        return done;
      }
      await privateDirectory(location);
      const takenAt = new Date().toISOString();
      return heartbeatWhile(
        (async () => {
          const file = await dump(location, CLUSTER_DUMP, ['pg_dumpall', '-U', await role()]);
          await verify(location, file);
          const fingerprint = await fingerprintCluster(deployment);
          await writePrivateJson(path.join(location, FINGERPRINT_FILE), fingerprint);
          const record: ClusterDump = { location, file, takenAt, summary: describeFingerprint(fingerprint) };
          await writePrivateJson(path.join(location, 'manifest.json'), record);
          return record;
        })(),
        'pg_dumpall of the old cluster',
      );
    },

    /**
     * Makes the new cluster's storage empty: a directory, or a named volume (created). One left by a crashed attempt is
     * emptied (a directory as podman sees its files: they belong to the container's user) or removed and created
     * again. Never the storage pod-database.yaml names, nor `keep`; a directory only beside `keep`.
     */
    async prepareDataDirectory(input: ClusterStorage & { keep: string }): Promise<string> {
      const fresh = checkClusterStorage(input);
      const keep = checkClusterStorage(isNamedVolume(fresh) ? { volume: input.keep } : { directory: input.keep });
      const live = await liveStorage();
      const beside = isNamedVolume(fresh) || path.dirname(storageName(fresh)) === path.dirname(storageName(keep));
      if (sameClusterStorage(fresh, keep) || sameClusterStorage(fresh, live) || !beside) {
        throw new InvalidActivityInput(
          isNamedVolume(fresh) ? 'volume' : 'directory',
          `a fresh sibling of ${storageName(keep)}, not the cluster pod-database.yaml names`,
          storageName(fresh),
        );
      }
      return isNamedVolume(fresh)
        ? prepareVolume(deployment, fresh.volume)
        : prepareDirectory(deployment, fresh.directory);
    },

    /**
     * Restores the dump into the new cluster with its own psql. Done before (its record): nothing again. A cluster an
     * earlier attempt restored into part-way has its databases dropped first: it is the fresh one, never the old.
     */
    async restoreCluster(input: { dump: ClusterDump } & ClusterStorage): Promise<string> {
      const { dump: record } = input;
      const location = checkBackupLocation(deployment.config.aegis.backupDir, record.location);
      const fresh = checkClusterStorage(input);
      const restored = await readJson<ClusterStorage>(path.join(location, RESTORED_FILE));
      if (restored && sameClusterStorage(restored, fresh)) return `already restored into ${storageName(fresh)}`;
      if (!sameClusterStorage(await liveStorage(), fresh)) {
        throw new RestoreBlocked(
          `pod-database.yaml does not name ${storageName(fresh)}: the restore goes into the new cluster only`,
        );
      }
      await verify(location, record.file);
      return heartbeatWhile(
        (async () => {
          const script = path.join(location, RESTORE_SCRIPT);
          await writeRestoreScript(path.join(location, CLUSTER_DUMP), script);
          const user = await role();
          const databases = (
            await deployment.psql(
              'postgres',
              "select datname from pg_database where datname not in ('postgres', 'template0', 'template1') order by 1",
            )
          )
            .split('\n')
            .filter(Boolean);
          for (const database of databases) {
            await deployment.psql('postgres', `drop database if exists "${database.replace(/"/g, '""')}" with (force)`);
          }
          await deployment.podman(
            [
              'exec',
              '-i',
              DATABASE_CONTAINER,
              'psql',
              '-X',
              '-q',
              '-v',
              'ON_ERROR_STOP=1',
              '-U',
              user,
              '-d',
              'postgres',
            ],
            { inputFile: script, timeoutMs: RESTORE_TIMEOUT_MS },
          );
          await fs.rm(script, { force: true });
          await writePrivateJson(path.join(location, RESTORED_FILE), fresh);
          return `${record.summary} restored into ${storageName(fresh)}`;
        })(),
        'restore of the cluster dump',
      );
    },

    /** Every database, role and table of the new cluster as the old one had it: a difference fails the upgrade. */
    async verifyClusterCopy({ dump: record }: { dump: ClusterDump }): Promise<string> {
      const location = checkBackupLocation(deployment.config.aegis.backupDir, record.location);
      const before = await readFingerprint(location);
      const after = await heartbeatWhile(fingerprintCluster(deployment), 'checksums of every table');
      const differences = fingerprintDifferences(before, after);
      if (differences.length > 0) {
        throw new ValidationFailed(
          `The new cluster differs from the old one: ${differences.slice(0, 10).join('; ')}` +
            (differences.length > 10 ? `; and ${differences.length - 10} more` : ''),
        );
      }
      return `${describeFingerprint(after)}: identical`;
    },
  };
}

/** An empty directory for the new cluster; one left by a crashed attempt is emptied first. */
async function prepareDirectory(deployment: Deployment, fresh: string): Promise<string> {
  const existed = await fs.stat(fresh).then(
    () => true,
    () => false,
  );
  if (existed) await heartbeatWhile(removeClusterFiles(deployment, fresh), `emptying ${fresh}`);
  await fs.mkdir(fresh, { recursive: true, mode: 0o700 });
  // initdb refuses a directory with anything in it: so does this, before the redeploy would fail on it.
  const left = await fs.readdir(fresh);
  if (left.length > 0)
    throw new RestoreBlocked(`${fresh} is not empty after emptying it: ${left.slice(0, 5).join(', ')}`);
  return existed ? `${fresh} emptied (left by an earlier attempt)` : `${fresh} created`;
}

/**
 * A new, empty named volume for the new cluster, where podman keeps the platform user's volumes. One left by a crashed
 * attempt is removed first: without `--force`, so podman refuses if a container still uses it.
 */
async function prepareVolume(deployment: Deployment, fresh: string): Promise<string> {
  const existed = await deployment.podman(['volume', 'exists', fresh]).then(
    () => true,
    () => false,
  );
  if (existed) await deployment.podman(['volume', 'rm', fresh]);
  await deployment.podman(['volume', 'create', fresh]);
  return existed
    ? `named volume ${fresh} created again (an earlier attempt left one)`
    : `named volume ${fresh} created`;
}

/**
 * Removes a cluster's directory. Its files belong to the container's user: root removes them itself; a rootless worker
 * through `podman unshare`, as podman maps that user (`podman unshare` refuses to run as root).
 */
function removeClusterFiles(deployment: Deployment, directory: string): Promise<unknown> {
  return process.getuid?.() === 0
    ? fs.rm(directory, { recursive: true, force: true })
    : deployment.podman(['unshare', 'rm', '-rf', '--', directory]);
}

async function writeRestoreScript(dumpFile: string, script: string): Promise<void> {
  await fs.rm(script, { force: true });
  const out = createWriteStream(script, { mode: 0o600, flags: 'wx' });
  for await (const line of createInterface({ input: createReadStream(dumpFile), crlfDelay: Infinity })) {
    const kept = restoreLine(line);
    if (kept !== undefined && !out.write(`${kept}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

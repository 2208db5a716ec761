/**
 * The major PostgreSQL upgrade's data step against a real PostgreSQL 15 (a throw-away local cluster standing in for
 * both majors): the cluster dumped with its fingerprint, restored into a cluster an attempt had already restored into
 * (as after a worker crash), and compared table by table; a changed row is a difference.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createPostgresMajorActivities, type ClusterDump } from '../../src/activities/postgres-major';
import { activityEnvironment } from '../helpers/activity-environment';
import { localDeployment, startLocalPostgres } from '../helpers/local-postgres';

// Every test here runs statements on a real PostgreSQL: on a machine busy with the sandbox lanes, seconds each.
jest.setTimeout(60_000);

const PLATFORM = `
  create role reader login;
  create table agents (id int primary key, name text not null, tags text[]);
  insert into agents values (1, 'seed-1', '{a,b}'), (2, 'Ölfass', null), (3, 'zebra', '{}');
  create schema audit;
  create table audit.events (at timestamptz, body jsonb);
  insert into audit.events values ('2026-11-26T03:00:00Z', '{"k": [1, 2]}');`;

let postgres: Awaited<ReturnType<typeof startLocalPostgres>>;
let work: string;
let podmanCalls: string[][];

const admin = (sql: string, database?: string) => postgres.admin(sql, database);

function activities(hooks: { before?: (what: string) => void } = {}) {
  const backupDir = path.join(work, 'backups');
  return createPostgresMajorActivities(
    localDeployment({ socketDir: postgres.socketDir, backupDir, podmanCalls, ...hooks }),
  );
}

/** The deploy checkout is the backup directory in the local deployment: its database pod names `directory`. */
async function podDefinitionNaming(directory: string): Promise<void> {
  const file = path.join(work, 'backups', 'podman', 'pods', 'database', 'pod-database.yaml');
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(
    file,
    [
      'spec:',
      '  containers:',
      '    - name: postgres',
      '      image: "registry/library/postgres:16-alpine"',
      '      volumeMounts:',
      '        - name: postgres-data',
      '          mountPath: /var/lib/postgresql/data',
      '  volumes:',
      '    - name: postgres-data',
      '      hostPath:',
      `        path: ${directory}`,
      '',
    ].join('\n'),
  );
}

beforeAll(async () => {
  postgres = await startLocalPostgres();
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'postgres-major-'));
  podmanCalls = [];
  admin('create database aegis');
  admin('create database temporal');
  admin(PLATFORM, 'aegis');
  admin(
    'create table executions (id bigint primary key); insert into executions select generate_series(1, 500);',
    'temporal',
  );
}, 60_000);
afterAll(async () => {
  await postgres?.stop();
  await fs.rm(work, { recursive: true, force: true });
});

test('dump, a restore retried after a crash part-way, and a copy identical table by table; a changed row differs', async () => {
  const env = activityEnvironment();
  const dump: ClusterDump = await env.run(activities().dumpCluster, {
    backupId: '20261126T030000Z-postgres-15.8-to-16',
  });
  expect(dump.summary).toBe('3 databases, 3 tables (504 rows), 2 roles');
  // Taken again (a retry after the dump finished): the same dump, not a second one.
  expect(await env.run(activities().dumpCluster, { backupId: '20261126T030000Z-postgres-15.8-to-16' })).toEqual(dump);

  await podDefinitionNaming('/srv/pg-16');
  // The first try dies after it dropped the databases, before its script ran: the cluster is half-way.
  const crashing = activities({
    before: (what) => {
      if (what.includes('psql -X -q')) throw new Error('worker killed');
    },
  });
  await expect(env.run(crashing.restoreCluster, { dump, directory: '/srv/pg-16' })).rejects.toThrow('worker killed');
  expect(admin("select count(*) from pg_database where datname = 'aegis'")).toBe('0\n');

  expect(await env.run(activities().restoreCluster, { dump, directory: '/srv/pg-16' })).toBe(
    '3 databases, 3 tables (504 rows), 2 roles restored into /srv/pg-16',
  );
  expect(await env.run(activities().restoreCluster, { dump, directory: '/srv/pg-16' })).toBe(
    'already restored into /srv/pg-16',
  );
  expect(await env.run(activities().verifyClusterCopy, { dump })).toBe(
    '3 databases, 3 tables (504 rows), 2 roles: identical',
  );

  admin("update agents set name = 'seed-one' where id = 1", 'aegis');
  await expect(env.run(activities().verifyClusterCopy, { dump })).rejects.toThrow(
    /The new cluster differs from the old one: table aegis\/public.agents has other content/,
  );
}, 60_000);

test('a restore refuses a cluster the pod does not name: never into the old one', async () => {
  const env = activityEnvironment();
  const dump: ClusterDump = await env.run(activities().dumpCluster, {
    backupId: '20261126T040000Z-postgres-15.8-to-16',
  });
  await podDefinitionNaming('/srv/pg');
  await expect(env.run(activities().restoreCluster, { dump, directory: '/srv/pg-16' })).rejects.toThrow(
    'pod-database.yaml does not name /srv/pg-16: the restore goes into the new cluster only',
  );
});

test('the fresh directory is never the old one, nor the one the pod names', async () => {
  const env = activityEnvironment();
  await podDefinitionNaming(path.join(work, 'pg'));
  await expect(
    env.run(activities().prepareDataDirectory, { directory: path.join(work, 'pg'), keep: path.join(work, 'pg') }),
  ).rejects.toThrow('Expected `directory` to be a fresh sibling');
  const fresh = path.join(work, 'pg-16');
  expect(await env.run(activities().prepareDataDirectory, { directory: fresh, keep: path.join(work, 'pg') })).toBe(
    `${fresh} created`,
  );
  // Left by a crashed attempt: emptied. Root removes the files itself; a rootless worker asks `podman unshare`, as
  // podman maps the container's user (it refuses to run as root).
  await fs.writeFile(path.join(fresh, 'PG_VERSION'), '16\n');
  expect(await env.run(activities().prepareDataDirectory, { directory: fresh, keep: path.join(work, 'pg') })).toBe(
    `${fresh} emptied (left by an earlier attempt)`,
  );
  if (process.getuid?.() === 0) {
    expect(await fs.readdir(fresh)).toEqual([]);
    expect(podmanCalls).not.toContainEqual(['unshare', 'rm', '-rf', '--', fresh]);
  } else expect(podmanCalls).toContainEqual(['unshare', 'rm', '-rf', '--', fresh]);
});

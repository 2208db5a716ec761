/**
 * The checks a major PostgreSQL upgrade's pre-flight makes before anything stops, against a real PostgreSQL 15 with
 * `btree_gin` in use in `aegis`. The target image's control files are those of the local 15's share directory, found
 * by the same `find` the worker runs in the image, with `btree_gin` left out: an image that lacks it.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PreflightFailed } from '../../src/core/errors';
import { createPostgresMajorChecks, spaceShortfalls } from '../../src/host/postgres-major-checks';
import { activityEnvironment } from '../helpers/activity-environment';
import { localDeployment, startLocalPostgres } from '../helpers/local-postgres';

// Every test here runs statements on a real PostgreSQL: on a machine busy with the sandbox lanes, seconds each.
jest.setTimeout(60_000);

const SHARE = '/usr/share/postgresql/15';
const RUNNING_IMAGE = 'docker.io/library/postgres:15-alpine';

let postgres: Awaited<ReturnType<typeof startLocalPostgres>>;
let work: string;
let podmanCalls: string[][];
let imageLacks: string[];

const admin = (sql: string, database?: string) => postgres.admin(sql, database);

/** `podman container inspect` names the running image; `podman run … find` lists the target image's control files. */
function answer(args: readonly string[]): string | undefined {
  if (args[0] === 'container') return `${RUNNING_IMAGE}\n`;
  if (args[0] !== 'run') return undefined;
  const found = execFileSync('find', [SHARE, ...args.slice(args.indexOf('-xdev') + 1)]).toString();
  return found
    .split('\n')
    .filter((file) => !imageLacks.includes(path.basename(file, '.control')))
    .join('\n');
}

function checks() {
  return createPostgresMajorChecks(
    localDeployment({ socketDir: postgres.socketDir, backupDir: path.join(work, 'backups'), podmanCalls, answer }),
  );
}

const run = <T>(check: () => Promise<T>) => activityEnvironment().run(check);

beforeAll(async () => {
  postgres = await startLocalPostgres();
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-major-checks-'));
  admin('create database aegis');
  admin('create extension btree_gin; create table agents (id int, name text)', 'aegis');
}, 60_000);

afterAll(async () => {
  await postgres?.stop();
  await fs.rm(work, { recursive: true, force: true });
});

beforeEach(() => {
  podmanCalls = [];
  imageLacks = [];
});

describe('checkExtensions', () => {
  it('refuses a target image that lacks an extension in use, naming it and its database', async () => {
    imageLacks = ['btree_gin'];

    const refusal = run(() => checks().checkExtensions('16-alpine'));

    await expect(refusal).rejects.toThrow(PreflightFailed);
    await expect(refusal).rejects.toThrow(
      'docker.io/library/postgres:16-alpine lacks extensions the cluster uses: btree_gin (in aegis)',
    );
    expect(podmanCalls).toContainEqual(
      expect.arrayContaining(['run', '--rm', '--entrypoint', 'find', 'docker.io/library/postgres:16-alpine']),
    );
  });

  it('passes when the target image has every extension in use', async () => {
    await expect(run(() => checks().checkExtensions('16-alpine'))).resolves.toBe(
      'Extensions: btree_gin, plpgsql all in docker.io/library/postgres:16-alpine',
    );
  });

  it('refuses when it finds no control file in the image, rather than guess', async () => {
    imageLacks = ['btree_gin', 'plpgsql', ...(await fs.readdir(path.join(SHARE, 'extension')))].map((file) =>
      path.basename(file, '.control'),
    );

    await expect(run(() => checks().checkExtensions('16-alpine'))).rejects.toThrow('Found no extension control files');
  });
});

describe('checkDiskSpace', () => {
  it('passes where there is room for three copies of the cluster', async () => {
    const newDataDirectory = path.join(work, 'data', 'pgdata-16');

    await expect(run(() => checks().checkDiskSpace({ newDataDirectory }))).resolves.toMatch(
      /^Disk: room for the dump, its copy and the new cluster \(\d\.\d\d GiB each, estimated\)$/,
    );
  });

  it('adds up the needs of one filesystem, and refuses what does not fit', () => {
    const gib = 1024 ** 3;
    const disk = { id: 1, freeBytes: 2.5 * gib };
    const needs = [
      { what: 'the plain dump', directory: '/backups', bytes: gib, filesystem: disk },
      { what: 'its copy for the restore', directory: '/backups', bytes: gib, filesystem: disk },
      { what: 'the new cluster', directory: '/data', bytes: gib, filesystem: { id: 2, freeBytes: 2 * gib } },
    ];

    expect(spaceShortfalls(needs)).toEqual([]);
    expect(spaceShortfalls(needs.map((need) => ({ ...need, filesystem: disk })))).toEqual([
      'about 3.0 GiB needed (the plain dump in /backups 1.0 GiB, its copy for the restore in /backups 1.0 GiB, ' +
        'the new cluster in /data 1.0 GiB), 2.5 GiB free',
    ]);
  });
});

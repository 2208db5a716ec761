/**
 * The backup, final dump and restore activities against a real PostgreSQL 15 (a throw-away local cluster): the
 * restore is stopped after, and instead of, each of its statements, then run again from the start, as Temporal
 * retries it after a worker crash or a failure. Every time, the second try ends with the database as the final
 * dump holds it, the database as it was kept in the pre-restore dump, and nothing left behind.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createBackupActivities } from '../../src/activities/backup';
import type { Deployment } from '../../src/host/deployment';
import { setAsideDatabase, type RestoreResult } from '../../src/host/restore';
import type { BackupRecord } from '../../src/core/upgrade';
import { activityEnvironment } from '../helpers/activity-environment';
import { startLocalPgBouncer } from '../helpers/local-pgbouncer';
import { localDeployment, startLocalPostgres } from '../helpers/local-postgres';

// Every test here runs statements on a real PostgreSQL: on a machine busy with the sandbox lanes, seconds each.
jest.setTimeout(60_000);

/** The sandbox's writers of aegis, as the real checkout's: the runtime and the AEGIS worker (through PgBouncer). */
const WRITERS = ['aegis-core-aegis-runtime', 'aegis-temporal-temporal-worker'];
const RUN = 'c0ffee00-0000-4000-8000-000000000001';

/** The old release's schema and rows: three migrations, as the sandbox's 1.2.0 runtime leaves them. */
const OLD_RELEASE = `
  create table _sqlx_migrations (version bigint primary key, description text not null,
    installed_on timestamptz not null default now(), success boolean not null, checksum bytea not null,
    execution_time bigint not null);
  insert into _sqlx_migrations values (1, 'create agents', now(), true, '\\x01', 1),
    (2, 'create executions', now(), true, '\\x02', 1), (3, 'create workflows', now(), true, '\\x03', 1);
  create table agents (id int primary key, name text not null);
  insert into agents values (1, 'seed-1'), (2, 'seed-2');`;
/** What the new runtime does once it starts: a fourth migration, a new table, a row of its own. */
const NEW_RUNTIME = `
  insert into _sqlx_migrations values (4, 'create execution events', now(), true, '\\x04', 1);
  create table execution_events (id int primary key);
  insert into agents values (100, 'written by the new runtime');`;

class Crash extends Error {
  override readonly name = 'Crash';
}

let postgres: Awaited<ReturnType<typeof startLocalPostgres>>;
let work: string;
let template: string;
let templateRecord: BackupRecord;
let podmanCalls: string[][];

const backupDir = () => path.join(work, 'backups');
const admin = (sql: string, database?: string) => postgres.admin(sql, database);
const databases = () =>
  admin('select datname from pg_database where not datistemplate order by 1').split('\n').filter(Boolean);
const agents = () => admin('select id from agents order by id', 'aegis').split('\n').filter(Boolean).map(Number);

function deployment(hooks: { before?: (what: string) => void; after?: (what: string) => void } = {}): Deployment {
  return localDeployment({ socketDir: postgres.socketDir, backupDir: backupDir(), podmanCalls, ...hooks });
}

/** The platform at the moment a rollback starts: backup, final dump, then the new runtime's migration and writes. */
async function upgradeThatMigrated(): Promise<BackupRecord> {
  for (const name of databases().filter((name) => name.startsWith('aegis'))) {
    admin(`drop database "${name}" with (force)`);
  }
  admin('create database aegis');
  admin(OLD_RELEASE, 'aegis');
  const activities = createBackupActivities(deployment());
  const env = activityEnvironment();
  const first: BackupRecord = await env.run(activities.backUpDatabases, {
    backupId: '20261126T030000Z-1.2.0-to-1.3.0',
    fromVersion: '1.2.0',
    toVersion: '1.3.0',
  });
  admin("insert into agents values (50, 'written by the old runtime during an approval gate')", 'aegis');
  const record: BackupRecord = await env.run(activities.backUpFinal, { backup: first });
  admin(NEW_RUNTIME, 'aegis');
  return record;
}

/** The rollback's restore, as the workflow run `runId` asks for it. */
async function restore(hooks: Parameters<typeof deployment>[0] = {}, runId = RUN): Promise<RestoreResult> {
  const { restoreDatabase } = createBackupActivities(deployment(hooks));
  const env = activityEnvironment({ workflowExecution: { workflowId: 'upgrade-production', runId } });
  return env.run(restoreDatabase, { backup: templateRecord, policy: 'auto' as const });
}

/** Every file and directory under `root`, as `<name> <file|dir> <mode>`. */
async function modes(root: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await fs.readdir(root, { recursive: true })) {
    const stat = await fs.stat(path.join(root, entry));
    found.push(`${entry} ${stat.isDirectory() ? 'dir' : 'file'} ${(stat.mode & 0o777).toString(8)}`);
  }
  return found.sort();
}

/** Owner-only: files 0600, directories 0700, no `.partial` left. */
async function expectPrivate(root: string): Promise<void> {
  const found = await modes(root);
  expect(found.filter((line) => line.includes('.partial '))).toEqual([]);
  expect(found.filter((line) => !/ (file 600|dir 700)$/.test(line))).toEqual([]);
  expect(found.length).toBeGreaterThan(3);
}

/** Puts the database and the backup directory back as they were when the rollback started. */
async function resetToRollbackStart(): Promise<void> {
  await fs.rm(backupDir(), { recursive: true, force: true });
  await fs.cp(template, backupDir(), { recursive: true });
  for (const name of databases().filter((name) => name.startsWith('aegis'))) {
    admin(`drop database "${name}" with (force)`);
  }
  admin('create database aegis');
  execFileSync('/usr/lib/postgresql/15/bin/pg_restore', ['-U', 'aegis', '-d', 'aegis', '--single-transaction'], {
    input: await fs.readFile(path.join(templateRecord.location, 'final', 'aegis.dump')),
    env: { ...process.env, PGHOST: postgres.socketDir, PGPORT: '5432' },
  });
  admin(NEW_RUNTIME, 'aegis');
  podmanCalls = [];
}

async function expectRestored(result: RestoreResult, runId = RUN): Promise<void> {
  const location = templateRecord.location;
  const preRestoreDump = path.join(location, 'restores', runId, 'pre-restore', 'aegis.dump');
  expect(result.restored).toBe(true);
  // The final dump's content: the old runtime's write during the gate kept, the new runtime's discarded.
  expect(agents()).toEqual([1, 2, 50]);
  expect(admin('select max(version) from _sqlx_migrations', 'aegis').trim()).toBe('3');
  expect(admin("select to_regclass('execution_events') is null", 'aegis').trim()).toBe('t');
  expect(databases().filter((name) => name.startsWith('aegis'))).toEqual(['aegis']);
  // The database as the rollback found it, new table included, kept beside the backup.
  const listing = execFileSync('/usr/lib/postgresql/15/bin/pg_restore', ['--list'], {
    input: await fs.readFile(preRestoreDump),
  }).toString();
  expect(listing).toContain('TABLE public execution_events');
  expect(result.restore).toMatchObject({
    databases: ['aegis'],
    dumps: [path.join(location, 'final', 'aegis.dump')],
    writersStopped: true,
    preRestoreDumps: [preRestoreDump],
  });
  // Writers stopped before anything was dumped or dropped.
  expect(podmanCalls).toContainEqual(['stop', '--ignore', '--time', '30', ...WRITERS]);
  await expectPrivate(location);
}

beforeAll(async () => {
  postgres = await startLocalPostgres();
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-restore-'));
  podmanCalls = [];
  templateRecord = await upgradeThatMigrated();
  template = path.join(work, 'template');
  await fs.cp(backupDir(), template, { recursive: true });
}, 60_000);

afterAll(async () => {
  await postgres?.stop();
  await fs.rm(work, { recursive: true, force: true });
});

describe('the final dump', () => {
  it('is taken with every writer stopped, owner-only, and recorded in the backup', async () => {
    const manifest = JSON.parse(
      await fs.readFile(path.join(template, path.basename(templateRecord.location), 'manifest.json'), 'utf8'),
    );

    expect(templateRecord.final?.files.map((file) => file.name)).toEqual(['final/aegis.dump']);
    expect(manifest.final).toEqual(templateRecord.final);
    expect(Date.parse(templateRecord.final?.takenAt ?? '')).not.toBeNaN();
    // The writers are looked up (recorded, to start those again only), then stopped in one call.
    expect(podmanCalls.filter((args) => args[0] !== 'ps')).toEqual([['stop', '--ignore', '--time', '30', ...WRITERS]]);
    await expectPrivate(template);
  });
});

describe('restoreDatabase on a real PostgreSQL', () => {
  let statements: string[];

  beforeAll(async () => {
    await resetToRollbackStart();
    statements = [];
    await expectRestored(await restore({ after: (what) => void statements.push(what) }));
  }, 60_000);

  it('restores the final dump, keeps the database as it was in pre-restore/, and leaves no scratch database', () => {
    expect(statements.length).toBeGreaterThan(10);
    expect(statements.some((what) => what.includes('rename to "aegis"'))).toBe(true);
  });

  it('done again, changes nothing and reports the same restore', async () => {
    await resetToRollbackStart();
    const first = await restore();
    const again = await restore();

    expect(again).toEqual(first);
    await expectRestored(again);
  });

  it('asked again by a later run (a second downgrade from the same backup), restores again from a fresh dump', async () => {
    await resetToRollbackStart();
    const first = await restore();
    admin(NEW_RUNTIME, 'aegis');

    const second = await restore({}, 'c0ffee00-0000-4000-8000-000000000002');

    expect(agents()).toEqual([1, 2, 50]);
    expect(second.restore?.restoredAt).not.toBe(first.restore?.restoredAt);
    expect(second.restore?.preRestoreDumps).not.toEqual(first.restore?.preRestoreDumps);
    await expectRestored(second, 'c0ffee00-0000-4000-8000-000000000002');
  });

  it('restores nothing under `auto` when the schema did not move, and keeps that decision', async () => {
    await resetToRollbackStart();
    admin('delete from _sqlx_migrations where version = 4; drop table execution_events', 'aegis');

    const result = await restore();

    expect(result).toEqual({ restored: false, reason: '_sqlx_migrations unchanged: schema did not move' });
    expect(agents()).toEqual([1, 2, 50, 100]);
    expect(podmanCalls).toEqual([]);
  });

  it('refuses, before it stops a writer or touches a database, when the live and the set-aside database both exist', async () => {
    await resetToRollbackStart();
    const aside = setAsideDatabase('aegis', path.basename(templateRecord.location), RUN);
    admin(`create database "${aside}"`);

    await expect(restore()).rejects.toThrow(`aegis and ${aside} both exist`);

    expect(podmanCalls).toEqual([]);
    expect(databases().filter((name) => name.startsWith('aegis'))).toEqual(['aegis', aside]);
    admin(`drop database "${aside}"`);
  });

  it.each([
    [
      'the scratch database is marked complete',
      'comment on database',
      ['rename to "aegis__pre_restore_<backup>"', 'rename to "aegis"'],
    ],
    ['the live database was set aside', 'rename to "aegis__pre_restore_', ['rename to "aegis"']],
  ])('after a crash once %s, a retry does only what is left', async (_, last, expected) => {
    await resetToRollbackStart();
    const stop = (what: string) => {
      if (what.includes(last)) throw new Crash(`stopped after ${what}`);
    };
    await expect(restore({ after: stop })).rejects.toThrow(Crash);
    const again: string[] = [];

    await expectRestored(await restore({ after: (what) => void again.push(what) }));

    const changes = again.filter((what) => /create database|pg_restore -U|alter database/.test(what));
    expect(
      changes.map((what) => what.replace(/.* (rename to .*)$/, '$1').replace(/_[0-9a-f]{8}"/, '_<backup>"')),
    ).toEqual(expected);
  });

  // Each statement of a clean restore: the try stops after it (a crash) or instead of it (a failure), then runs again.
  it.each(['after', 'instead of'] as const)(
    'stopped %s any statement, a second try from the start restores all and loses nothing',
    async (when) => {
      const failures: string[] = [];
      for (const [k, statement] of statements.entries()) {
        await resetToRollbackStart();
        let count = 0;
        const stop = (what: string) => {
          if (count++ === k) throw new Crash(`stopped ${when} ${what}`);
        };
        try {
          await expect(restore(when === 'after' ? { after: stop } : { before: stop })).rejects.toThrow(Crash);
          await expectRestored(await restore());
        } catch (error) {
          failures.push(`${k} ${statement}: ${(error as Error).message.split('\n').slice(0, 6).join(' ')}`);
        }
      }
      expect(failures).toEqual([]);
    },
    180_000,
  );
});

describe('a restore under PgBouncer, as the real platform pools its writers (transaction mode)', () => {
  it("ends PgBouncer's pooled connections with the other sessions; its next client reads the restored database", async () => {
    await resetToRollbackStart();
    const bouncer = await startLocalPgBouncer(postgres.socketDir, ['aegis']);
    try {
      // A writer's query through PgBouncer: once it has gone, PgBouncer keeps its server connection in the pool.
      expect(bouncer.query('select string_agg(id::text, $$,$$ order by id) from agents', 'aegis')).toBe('1,2,50,100');
      expect(admin("select count(*) from pg_stat_activity where datname = 'aegis'").trim()).toBe('1');

      await expectRestored(await restore());

      // The runtime after the rollback, through the same PgBouncer, not restarted: the restored rows, and it writes.
      expect(bouncer.query('select string_agg(id::text, $$,$$ order by id) from agents', 'aegis')).toBe('1,2,50');
      bouncer.query("insert into agents values (60, 'written through PgBouncer after the restore')", 'aegis');
      expect(agents()).toEqual([1, 2, 50, 60]);
    } finally {
      await bouncer.stop();
    }
  });
});

describe('a backup taken as another POSTGRES_USER than aegis', () => {
  it('records that role, so that a restore by hand runs as it', async () => {
    admin('do $$ begin create role platform_admin superuser login; exception when duplicate_object then null; end $$');
    const asAdmin: Deployment = {
      ...deployment(),
      env: async () => new Map([['POSTGRES_USER', 'platform_admin']]),
    };
    const activities = createBackupActivities(asAdmin);
    const env = activityEnvironment();
    const backupId = '20261126T040000Z-1.2.0-to-1.3.0';
    const request = { backupId, fromVersion: '1.2.0', toVersion: '1.3.0' };

    const first: BackupRecord = await env.run(activities.backUpDatabases, request);
    const again: BackupRecord = await env.run(activities.backUpDatabases, request);
    const final: BackupRecord = await env.run(activities.backUpFinal, { backup: first });
    expect([first.role, again.role, final.role]).toEqual(['platform_admin', 'platform_admin', 'platform_admin']);
  });
});

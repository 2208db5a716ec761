import type { Deployment } from '../../src/host/deployment';
import { MigrationFailed } from '../../src/core/errors';
import {
  createMigrationActivities,
  judgeMigrationLog,
  sameMigrations,
  type MigrationRow,
} from '../../src/activities/migrations';
import { loadConfig } from '../../src/config';
import { RUNTIME_CONTAINER } from '../../src/core/platform';
import { activityEnvironment } from '../helpers/activity-environment';

/** One runtime log line as `tracing` prints it to a terminal: dimmed time, coloured level, dimmed target. */
function logLine(level: 'INFO' | 'WARN' | 'ERROR', message: string, second = 0): string {
  const colour = { INFO: 32, WARN: 33, ERROR: 31 }[level];
  const time = `2026-11-26T03:00:0${second}.123Z`;
  return `\x1b[2m${time}\x1b[0m \x1b[${colour}m${level.padStart(5)}\x1b[0m \x1b[2maegis_orchestrator\x1b[0m\x1b[2m:\x1b[0m ${message}`;
}

const STARTUP = [
  logLine('INFO', 'Starting AEGIS orchestrator version=1.3.0', 0),
  logLine('INFO', 'Connected to PostgreSQL', 1),
  logLine(
    'INFO',
    'Database migration status \x1b[3mapplied\x1b[0m\x1b[2m=\x1b[0m5 \x1b[3mtotal\x1b[0m\x1b[2m=\x1b[0m7',
    1,
  ),
];

const APPLIED_LOG = [
  ...STARTUP,
  logLine('INFO', 'Applying pending migrations...', 2),
  logLine('INFO', 'Database migrations applied successfully', 3),
  logLine('INFO', 'HTTP server listening on 0.0.0.0:8088', 4),
].join('\n');

const UP_TO_DATE_LOG = [...STARTUP, logLine('INFO', 'Database is up to date', 2)].join('\n');

const FAILED_LOG = [
  ...STARTUP,
  logLine('INFO', 'Applying pending migrations...', 2),
  logLine(
    'ERROR',
    'Failed to apply migrations: error returned from database: column "tenant_id" of relation "executions" already exists',
    3,
  ),
].join('\n');

const IN_MEMORY_LOG = [
  logLine('INFO', 'Starting AEGIS orchestrator version=1.3.0', 0),
  logLine('WARN', 'Failed to connect to PostgreSQL, falling back to InMemory', 5),
  logLine('INFO', 'HTTP server listening on 0.0.0.0:8088', 6),
].join('\n');

const PENDING_LOG = [
  logLine('INFO', 'Connected to PostgreSQL', 1),
  logLine('INFO', 'Applying pending migrations...', 2),
].join('\n');

describe('judgeMigrationLog', () => {
  it('succeeds on `Database migrations applied successfully` behind colour codes', () => {
    expect(judgeMigrationLog(APPLIED_LOG)).toEqual({
      state: 'succeeded',
      line: '2026-11-26T03:00:03.123Z  INFO aegis_orchestrator: Database migrations applied successfully',
    });
  });

  it('succeeds on `Database is up to date`, which `grep -i migrat` misses', () => {
    expect(/migrat/i.test('Database is up to date')).toBe(false);

    const verdict = judgeMigrationLog(UP_TO_DATE_LOG);

    expect(verdict.state).toBe('succeeded');
    expect(verdict).toHaveProperty('line', expect.stringContaining('Database is up to date'));
  });

  it('fails on `Failed to apply migrations` and returns that line without colour codes', () => {
    const verdict = judgeMigrationLog(FAILED_LOG);

    expect(verdict).toEqual({
      state: 'failed',
      line:
        '2026-11-26T03:00:03.123Z ERROR aegis_orchestrator: Failed to apply migrations: error returned from database: ' +
        'column "tenant_id" of relation "executions" already exists',
    });
  });

  it('fails when the runtime falls back to InMemory, though it keeps running', () => {
    const verdict = judgeMigrationLog(IN_MEMORY_LOG);

    expect(verdict.state).toBe('failed');
    expect(verdict).toHaveProperty('line', expect.stringContaining('falling back to InMemory'));
  });

  it('is pending while the runtime has connected and is still applying migrations', () => {
    expect(judgeMigrationLog(PENDING_LOG)).toEqual({ state: 'pending' });
  });

  it('is pending on an empty log', () => {
    expect(judgeMigrationLog('')).toEqual({ state: 'pending' });
  });
});

describe('sameMigrations', () => {
  const rows: MigrationRow[] = [
    { version: 20260101000000, description: 'initial', success: true, checksum: 'ab01' },
    { version: 20260301000000, description: 'tenants', success: true, checksum: 'cd02' },
  ];

  it('is true for the same versions, outcomes and checksums, whatever the descriptions', () => {
    const renamed = rows.map((row) => ({ ...row, description: `${row.description} (renamed)` }));

    expect(sameMigrations(rows, renamed)).toBe(true);
  });

  it('is false when a migration was added', () => {
    const added = [...rows, { version: 20261101000000, description: 'quotas', success: true, checksum: 'ef03' }];

    expect(sameMigrations(rows, added)).toBe(false);
  });

  it('is false when a checksum or an outcome differs', () => {
    expect(sameMigrations(rows, [rows[0]!, { ...rows[1]!, checksum: 'ffff' }])).toBe(false);
    expect(sameMigrations(rows, [rows[0]!, { ...rows[1]!, success: false }])).toBe(false);
  });
});

describe('awaitMigrations', () => {
  /** `_sqlx_migrations` after the upgrade, as `readMigrations` selects it (version as text). */
  const AFTER = [
    { version: '20260101000000', description: 'initial', success: true, checksum: 'ab01' },
    { version: '20260301000000', description: 'tenants', success: true, checksum: 'cd02' },
    { version: '20261101000000', description: 'quotas', success: true, checksum: 'ef03' },
  ];

  function fakeDeployment(log: string, rows: object[] = AFTER) {
    const podmanCalls: (readonly string[])[] = [];
    const fake: Pick<Deployment, 'config' | 'podman' | 'query'> = {
      config: loadConfig({ AEGIS_ROOT: '/srv/aegis-deploy', AEGIS_READY_TIMEOUT_SECONDS: '5' }),
      podman: async (args) => {
        podmanCalls.push(args);
        return { stdout: log, stderr: '' };
      },
      query: async <Row extends object>(sql: string) =>
        (sql.includes('to_regclass') ? [{ present: true }] : rows) as Row[],
    };
    return { deployment: fake as Deployment, podmanCalls };
  }

  const since = '2026-11-26T03:00:00.000Z';

  it('returns the versions applied since the snapshot taken before the upgrade', async () => {
    const { deployment } = fakeDeployment(APPLIED_LOG);
    const { awaitMigrations } = createMigrationActivities(deployment);

    const applied = await activityEnvironment().run(awaitMigrations, {
      since,
      before: [20260101000000, 20260301000000],
    });

    expect(applied).toEqual([20261101000000]);
  });

  it('returns no version when the database was already up to date', async () => {
    const { deployment } = fakeDeployment(UP_TO_DATE_LOG);
    const { awaitMigrations } = createMigrationActivities(deployment);

    const applied = await activityEnvironment().run(awaitMigrations, {
      since,
      before: [20260101000000, 20260301000000, 20261101000000],
    });

    expect(applied).toEqual([]);
  });

  it("reads the runtime container's log since the redeploy, never `make logs`", async () => {
    const { deployment, podmanCalls } = fakeDeployment(APPLIED_LOG);
    const { awaitMigrations } = createMigrationActivities(deployment);

    await activityEnvironment().run(awaitMigrations, { since, before: [] });

    expect(podmanCalls).toEqual([['logs', '--since', since, RUNTIME_CONTAINER]]);
  });

  it('throws MigrationFailed carrying the failure line of the log', async () => {
    const { deployment } = fakeDeployment(FAILED_LOG);
    const { awaitMigrations } = createMigrationActivities(deployment);

    const failure = activityEnvironment().run(awaitMigrations, { since, before: [] });

    await expect(failure).rejects.toBeInstanceOf(MigrationFailed);
    await expect(failure).rejects.toThrow(
      'Failed to apply migrations: error returned from database: column "tenant_id" of relation "executions" already exists',
    );
    await expect(failure).rejects.toHaveProperty('evidence', expect.stringContaining('Failed to apply migrations'));
  });

  it('throws MigrationFailed when the runtime fell back to InMemory', async () => {
    const { deployment } = fakeDeployment(IN_MEMORY_LOG);
    const { awaitMigrations } = createMigrationActivities(deployment);

    const failure = activityEnvironment().run(awaitMigrations, { since, before: [] });

    await expect(failure).rejects.toBeInstanceOf(MigrationFailed);
    await expect(failure).rejects.toThrow('Failed to connect to PostgreSQL, falling back to InMemory');
  });

  it('throws MigrationFailed naming a migration recorded as failed in _sqlx_migrations', async () => {
    const rows = [...AFTER.slice(0, 2), { ...AFTER[2]!, success: false }];
    const { deployment } = fakeDeployment(APPLIED_LOG, rows);
    const { awaitMigrations } = createMigrationActivities(deployment);

    const failure = activityEnvironment().run(awaitMigrations, { since, before: [] });

    await expect(failure).rejects.toBeInstanceOf(MigrationFailed);
    await expect(failure).rejects.toThrow('20261101000000 quotas');
  });
});

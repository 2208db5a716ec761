import { RUNTIME_CONTAINER } from '../core/platform';
import type { Deployment } from '../host/deployment';
import { MigrationFailed } from '../core/errors';
import { pause } from '../host/heartbeat';
import { stripAnsi } from '../host/output';

/** One row of sqlx's bookkeeping table, as the manifest keeps it. */
export interface MigrationRow {
  version: number;
  description: string;
  success: boolean;
  checksum: string;
}

export type MigrationVerdict =
  { state: 'pending' } | { state: 'succeeded'; line: string } | { state: 'failed'; line: string };

/** The runtime's own lines (docs/platform.md); `grep -i migrat`, the guide's check, misses "up to date". */
const SUCCESS_LINES = ['Database migrations applied successfully', 'Database is up to date'];
const FAILURE_LINES = ['Failed to apply migrations', 'Failed to connect to PostgreSQL'];

/** Judges the runtime's log since its redeploy: the first decisive line wins. */
export function judgeMigrationLog(log: string): MigrationVerdict {
  for (const raw of stripAnsi(log).split('\n')) {
    const line = raw.trim();
    if (FAILURE_LINES.some((marker) => line.includes(marker))) return { state: 'failed', line };
    if (SUCCESS_LINES.some((marker) => line.includes(marker))) return { state: 'succeeded', line };
  }
  return { state: 'pending' };
}

export async function readMigrations(deployment: Deployment): Promise<MigrationRow[]> {
  const [exists] = await deployment.query<{ present: boolean }>(
    "select to_regclass('public._sqlx_migrations') is not null as present",
  );
  if (!exists?.present) return [];
  const rows = await deployment.query<{ version: string; description: string; success: boolean; checksum: string }>(
    "select version::text, description, success, encode(checksum, 'hex') as checksum from _sqlx_migrations order by version",
  );
  return rows.map((row) => ({ ...row, version: Number(row.version) }));
}

export function sameMigrations(a: readonly MigrationRow[], b: readonly MigrationRow[]): boolean {
  const key = (rows: readonly MigrationRow[]) =>
    JSON.stringify(rows.map((row) => [row.version, row.success, row.checksum]));
  return key(a) === key(b);
}

const POLL_INTERVAL_MS = 250;

export function createMigrationActivities(deployment: Deployment) {
  return {
    /**
     * Waits, bounded, for the runtime redeployed at `since` to report its migrations, then confirms them in
     * `_sqlx_migrations`. Returns the versions this upgrade applied.
     */
    async awaitMigrations({ since, before }: { since: string; before: number[] }): Promise<number[]> {
      const deadline = Date.now() + deployment.config.aegis.readyTimeoutSeconds * 1000;
      let verdict: MigrationVerdict = { state: 'pending' };
      while (verdict.state === 'pending') {
        // `make logs` follows forever: read the container's log since the redeploy instead.
        const log = await deployment
          .podman(['logs', '--since', since, RUNTIME_CONTAINER])
          .then(({ stdout, stderr }) => `${stdout}\n${stderr}`)
          .catch(() => '');
        verdict = judgeMigrationLog(log);
        if (verdict.state === 'pending') {
          if (Date.now() > deadline) {
            throw new MigrationFailed(
              `The runtime logged no migration outcome within ${deployment.config.aegis.readyTimeoutSeconds} s`,
            );
          }
          await pause(POLL_INTERVAL_MS, 'waiting for the runtime to migrate');
        }
      }
      if (verdict.state === 'failed') throw new MigrationFailed('The runtime failed to migrate', verdict.line);
      const after = await readMigrations(deployment);
      const failed = after.filter((row) => !row.success);
      if (failed.length > 0) {
        throw new MigrationFailed(
          'Migrations recorded as failed in _sqlx_migrations',
          failed.map((row) => `${row.version} ${row.description}`).join(', '),
        );
      }
      return after.filter((row) => !before.includes(row.version)).map((row) => row.version);
    },

    async snapshotMigrations(): Promise<MigrationRow[]> {
      return readMigrations(deployment);
    },
  };
}

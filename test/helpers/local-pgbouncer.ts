import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { MissingDependency } from './repo';

/** The host's PgBouncer, the one the sandbox's PgBouncer image is built from (the project's bootstrap installs it). */
const PGBOUNCER = '/usr/sbin/pgbouncer';
const PORT = 6432;

/**
 * A real PgBouncer in front of a `startLocalPostgres` cluster, pooling as the real platform's does (transaction mode),
 * on a Unix socket in the cluster's directory: no TCP port, so tests never collide. It refuses to run as root: as root
 * it runs as `nobody`, as the cluster does.
 */
export interface LocalPgBouncer {
  /** Runs `sql` with psql as `aegis` through PgBouncer, stopping at the first error; returns its unaligned output. */
  query(sql: string, database: string): string;
  stop(): Promise<void>;
}

export async function startLocalPgBouncer(socketDir: string, databases: readonly string[]): Promise<LocalPgBouncer> {
  if (!existsSync(PGBOUNCER)) {
    throw new MissingDependency(`${PGBOUNCER} is missing`, 'Run `npm run bootstrap` (it installs pgbouncer)');
  }
  const config = path.join(socketDir, 'pgbouncer.ini');
  const log = path.join(socketDir, 'pgbouncer.log');
  await fs.writeFile(path.join(socketDir, 'userlist.txt'), '"aegis" ""\n');
  await fs.writeFile(
    config,
    [
      '[databases]',
      ...databases.map((database) => `${database} = host=${socketDir} port=5432 dbname=${database}`),
      '[pgbouncer]',
      'listen_addr =',
      `listen_port = ${PORT}`,
      `unix_socket_dir = ${socketDir}`,
      'auth_type = trust',
      `auth_file = ${path.join(socketDir, 'userlist.txt')}`,
      'pool_mode = transaction',
      `logfile = ${log}`,
      '',
    ].join('\n'),
  );
  const root = process.getuid?.() === 0;
  const child: ChildProcess = root
    ? spawn('runuser', ['-u', 'nobody', '--', PGBOUNCER, config], { stdio: 'ignore' })
    : spawn(PGBOUNCER, [config], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const query = (sql: string, database: string) =>
    execFileSync('psql', ['-X', '-v', 'ON_ERROR_STOP=1', '-At', '-U', 'aegis', '-d', database, '-c', sql], {
      env: { ...process.env, PGHOST: socketDir, PGPORT: String(PORT) },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
      .toString()
      .trim();
  // Listening once its socket answers a query; a PgBouncer that exited says why in its log.
  for (let waited = 0; ; waited += 50) {
    try {
      query('select 1', databases[0] ?? 'postgres');
      break;
    } catch (error) {
      if (child.exitCode !== null || waited > 10_000) {
        const why = await fs.readFile(log, 'utf8').catch(() => '(no log)');
        child.kill();
        throw new Error(`PgBouncer did not start: ${String(error)}\n${why}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return {
    query,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

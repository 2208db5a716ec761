import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { createCommandRunner, type CommandOptions, type RunCommand } from '../../src/host/command';
import type { Deployment } from '../../src/host/deployment';
import { DATABASE_CONTAINER } from '../../src/core/platform';
import { installSandboxPods } from './sandbox-pods';

/** The PostgreSQL 15 binaries the sandbox's database image is built from (the project's bootstrap installs them). */
const BIN = '/usr/lib/postgresql/15/bin';
const PORT = 5432;

/**
 * A throw-away PostgreSQL 15 cluster on a Unix socket in a private directory: no TCP port, so tests never collide.
 * initdb refuses to run as root: as root, the server runs as `nobody`.
 */
export interface LocalPostgres {
  socketDir: string;
  /** Runs `sql` with psql as the superuser `aegis`, stopping at the first error; returns its unaligned output. */
  admin(sql: string, database?: string): string;
  stop(): Promise<void>;
}

export async function startLocalPostgres(): Promise<LocalPostgres> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-pg-'));
  const asServer = (file: string, args: string[]) => {
    const command = process.getuid?.() === 0 ? ['runuser', ['-u', 'nobody', '--', file, ...args]] : [file, args];
    execFileSync(command[0] as string, command[1] as string[], { stdio: 'pipe' });
  };
  if (process.getuid?.() === 0) execFileSync('chown', ['nobody', root]);
  const data = path.join(root, 'data');
  asServer(path.join(BIN, 'initdb'), ['-D', data, '-U', 'aegis', '-A', 'trust', '--no-sync']);
  const options = `-p ${PORT} -k ${root} -c listen_addresses= -c fsync=off`;
  asServer(path.join(BIN, 'pg_ctl'), ['-D', data, '-o', options, '-l', path.join(root, 'log'), '-w', 'start']);
  return {
    socketDir: root,
    admin: (sql, database = 'postgres') =>
      execFileSync(path.join(BIN, 'psql'), ['-X', '-v', 'ON_ERROR_STOP=1', '-At', '-U', 'aegis', '-d', database], {
        input: sql,
        env: { ...process.env, PGHOST: root, PGPORT: String(PORT) },
      }).toString(),
    stop: async () => {
      asServer(path.join(BIN, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop']);
      await fs.rm(root, { recursive: true, force: true });
    },
  };
}

/**
 * A Deployment whose `podman exec aegis-database-postgres <tool> …` runs the tool against the local cluster, and
 * whose other podman calls are recorded (and answered as `answer` says). `before` runs ahead of each database
 * statement or podman call: a test throws from it to stop a try at a chosen point.
 */
export function localDeployment(options: {
  socketDir: string;
  backupDir: string;
  podmanCalls: string[][];
  before?: (what: string) => void;
  after?: (what: string) => void;
  /** The stdout of a recorded podman call; empty when undefined. */
  answer?: (args: readonly string[]) => string | undefined;
}): Deployment {
  const { socketDir, backupDir, podmanCalls } = options;
  const env = { PGHOST: socketDir, PGPORT: String(PORT), PATH: process.env.PATH ?? '' };
  const run: RunCommand = createCommandRunner(async () => []);
  const step = async <T>(what: string, work: () => Promise<T>): Promise<T> => {
    options.before?.(what);
    const result = await work();
    options.after?.(what);
    return result;
  };
  const statement = (database: string, sql: string) =>
    step(`psql ${sql}`, async () => {
      const args = ['-X', '-v', 'ON_ERROR_STOP=1', '-At', '-U', 'aegis', '-d', database, '-c', sql];
      return (await run(path.join(BIN, 'psql'), args, { env })).stdout;
    });
  // Several statements as psql runs several `-c`: one after another, each committed, the first failure stopping the
  // rest; each is its own step, so that a test can stop the call between any two, as a crash of psql would.
  const psql = async (database: string, sql: string | readonly string[]) => {
    const outputs: string[] = [];
    for (const each of typeof sql === 'string' ? [sql] : sql) outputs.push(await statement(database, each));
    return outputs.filter(Boolean).join('\n');
  };
  return {
    config: { aegis: { backupDir } },
    root: backupDir,
    // The checkout's `.env` and pod definitions (the writers are read from them), the sandbox's.
    env: async () => {
      installSandboxPods(backupDir);
      return new Map([
        ['POSTGRES_USER', 'aegis'],
        ['AEGIS_DB_HOST', 'aegis-database'],
      ]);
    },
    secrets: async () => [],
    make: async () => ({ stdout: '', stderr: '' }),
    podman: (args: readonly string[], commandOptions?: CommandOptions) =>
      step(`podman ${args.join(' ')}`, async () => {
        const exec = args[0] === 'exec' ? args.slice(args[1] === '-i' ? 2 : 1) : undefined;
        if (exec?.[0] === DATABASE_CONTAINER) {
          const [tool = '', ...rest] = exec.slice(1);
          return run(path.join(BIN, tool), rest, { ...commandOptions, env });
        }
        podmanCalls.push([...args]);
        return { stdout: options.answer?.(args) ?? '', stderr: '' };
      }),
    psql,
    runningImages: async () => ({}),
    query: async <Row extends object>(sql: string, database = 'aegis') =>
      step(`query ${sql}`, async () => {
        const client = new Client({ host: socketDir, port: PORT, user: 'aegis', database });
        await client.connect();
        try {
          return (await client.query<Row>(sql)).rows;
        } finally {
          await client.end();
        }
      }),
  } as unknown as Deployment;
}

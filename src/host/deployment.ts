import fs from 'node:fs/promises';
import path from 'node:path';
import { Client } from 'pg';
import type { Config } from '../config';
import { DATABASE_CONTAINER, RUNTIME_DATABASE, podFullName } from '../core/platform';
import type { RunCommand, CommandOptions, CommandResult } from './command';
import { databaseRole, readDeployEnv, secretValues } from './env-file';

/** How the activities reach one AEGIS deployment: its checkout, its podman, its PostgreSQL. */
export interface Deployment {
  config: Config;
  root: string;
  env(): Promise<Map<string, string>>;
  secrets(): Promise<string[]>;
  /** `make -C <root> <target> KEY=value…`, bounded by `timeoutMs` (@default 10 minutes). */
  make(target: string, variables?: Record<string, string>, options?: { timeoutMs?: number }): Promise<CommandResult>;
  podman(args: readonly string[], options?: CommandOptions): Promise<CommandResult>;
  /** Another program of the host, as the platform's user: `systemctl --user`, the checkout's `bin/aegis`. */
  host(file: string, args: readonly string[], options?: CommandOptions): Promise<CommandResult>;
  /**
   * `psql` inside the database container, as the real procedure does: same major version as the server. Several
   * statements are one call, each its own `-c`: each commits on its own, and the first that fails stops the rest.
   */
  psql(database: string, sql: string | readonly string[]): Promise<string>;
  /** The image each running AEGIS container runs, by container name. */
  runningImages(): Promise<Record<string, string>>;
  /** A query over the network with the credentials of `.env`, for the version and `_sqlx_migrations`. */
  query<Row extends object>(sql: string, database?: string): Promise<Row[]>;
}

export interface DeploymentDeps {
  config: Config;
  run: RunCommand;
}

/** A make step may wait for a registry login and a `podman play kube`: bounded, never forever. */
const MAKE_TIMEOUT_MS = 10 * 60_000;

export function createDeployment({ config, run }: DeploymentDeps): Deployment {
  const root = config.aegis.root;
  const env = () => readDeployEnv(root);
  return {
    config,
    root,
    env,
    secrets: async () => secretValues(await env()),
    make: (target, variables = {}, { timeoutMs = MAKE_TIMEOUT_MS } = {}) =>
      run('make', ['-C', root, target, ...Object.entries(variables).map(([key, value]) => `${key}=${value}`)], {
        timeoutMs,
      }),
    podman: (args, options) => run('podman', args, options),
    host: (file, args, options) => run(file, args, options),
    psql: async (database, sql) => {
      const user = databaseRole(await env());
      const args = [
        'exec',
        DATABASE_CONTAINER,
        'psql',
        '-X',
        '-v',
        'ON_ERROR_STOP=1',
        '-At',
        '-U',
        user,
        '-d',
        database,
      ];
      const statements = typeof sql === 'string' ? [sql] : sql;
      return (await run('podman', [...args, ...statements.flatMap((statement) => ['-c', statement])])).stdout;
    },
    runningImages: async () => {
      const { stdout } = await run('podman', ['ps', '--filter', 'name=^aegis-', '--format', '{{.Names}} {{.Image}}']);
      return Object.fromEntries(
        stdout
          .split('\n')
          .filter(Boolean)
          .map((line) => line.split(' ') as [string, string]),
      );
    },
    query: async <Row extends object>(sql: string, database = RUNTIME_DATABASE) => {
      const values = await env();
      const client = new Client({
        host: config.aegis.postgres.host,
        port: config.aegis.postgres.port,
        user: databaseRole(values),
        password: values.get('POSTGRES_PASSWORD'),
        database,
        connectionTimeoutMillis: 10_000,
      });
      await client.connect().catch((error: Error) => {
        const { host, port } = config.aegis.postgres;
        throw new Error(
          `PostgreSQL (pod ${podFullName('database')}) does not answer at ${host}:${port}: ${error.message}`,
        );
      });
      try {
        return (await client.query<Row>(sql)).rows;
      } finally {
        await client.end();
      }
    },
  };
}

/** `pod` is any pod of the profile (`secrets` and `storage` too), not only those the upgrade redeploys. */
export function podYamlPath(root: string, pod: string): string {
  return path.join(root, 'podman', 'pods', pod, `pod-${pod}.yaml`);
}

/** Pods listed by `profiles/<profile>.conf` (`PODS="database core …"`). */
export function profilePods(conf: string): string[] {
  const match = /^\s*PODS\s*[:?]?=\s*["']?([^"'\n]*)["']?/m.exec(conf);
  return match?.[1]?.split(/\s+/).filter(Boolean) ?? [];
}

/** The pods the deployment's profile runs. */
export async function deployedPods(deployment: Deployment): Promise<string[]> {
  const { root, config } = deployment;
  return profilePods(await fs.readFile(path.join(root, 'profiles', `${config.aegis.profile}.conf`), 'utf8'));
}

import path from 'node:path';
import { DEFAULT_TASK_QUEUE } from './upgrade';

/** Everything the worker and the CLI read from the environment, read once at start. */
export interface Config {
  temporal: {
    /** @default '127.0.0.1:7233' (`TEMPORAL_ADDRESS`) */
    address: string;
    /** @default 'default' (`TEMPORAL_NAMESPACE`) */
    namespace: string;
    /** @default 'aegis-upgrades' (`AEGIS_TASK_QUEUE`) */
    taskQueue: string;
  };
  aegis: {
    /** The deploy checkout the operator runs `make` in (`AEGIS_ROOT`, required). */
    root: string;
    /** Where the images come from. @default 'ghcr.io/100monkeys-ai' (`AEGIS_REGISTRY`) */
    registry: string;
    /** The deployment's profile under `profiles/`. @default 'development' (`AEGIS_PROFILE`) */
    profile: string;
    /** @default '<AEGIS_ROOT>/backups' (`AEGIS_BACKUP_DIR`) */
    backupDir: string;
    /** PostgreSQL as reached from this host; user and password come from the checkout's `.env`. */
    postgres: {
      /** @default '127.0.0.1' (`AEGIS_POSTGRES_HOST`) */
      host: string;
      /** @default 5432 (`AEGIS_POSTGRES_PORT`) */
      port: number;
    };
    /** The runtime's health endpoints. @default 'http://127.0.0.1:8088' (`AEGIS_RUNTIME_URL`) */
    runtimeUrl: string;
    /** @default 'http://127.0.0.1:8089' (`AEGIS_SEAL_GATEWAY_URL`) */
    sealGatewayUrl: string;
    /** How long a redeployed pod may take to be ready, or the runtime to log its migrations. @default 120 (`AEGIS_READY_TIMEOUT_SECONDS`) */
    readyTimeoutSeconds: number;
  };
  worker: {
    /**
     * After SIGTERM or SIGINT, how long running activities may go on before they are cancelled: long enough for a
     * `make redeploy` to end, so no pod is left half-replaced. @default 120 (`AEGIS_SHUTDOWN_GRACE_SECONDS`)
     */
    shutdownGraceSeconds: number;
  };
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

function reader(env: Env) {
  return (name: string, fallback?: string): string => {
    const value = env[name]?.trim() || fallback;
    if (value === undefined) throw new ConfigError(`${name} is not set`);
    return value;
  };
}

/** The Temporal connection alone: what the CLI needs, and the first part of the worker's configuration. */
export function loadTemporalConfig(env: Env = process.env): Config['temporal'] {
  const read = reader(env);
  const address = read('TEMPORAL_ADDRESS', '127.0.0.1:7233');
  if (!/^[^\s:]+:\d+$/.test(address)) {
    throw new ConfigError(`Expected TEMPORAL_ADDRESS to be host:port, got \`${address}\``);
  }
  return {
    address,
    namespace: read('TEMPORAL_NAMESPACE', 'default'),
    taskQueue: read('AEGIS_TASK_QUEUE', DEFAULT_TASK_QUEUE),
  };
}

export function loadConfig(env: Env = process.env): Config {
  const read = reader(env);
  const positiveInteger = (name: string, fallback: number): number => {
    const raw = read(name, String(fallback));
    const value = Number(raw);
    if (!Number.isInteger(value) || value <= 0) {
      throw new ConfigError(`Expected ${name} to be a positive whole number, got \`${raw}\``);
    }
    return value;
  };
  const url = (name: string, fallback: string): string => {
    const value = read(name, fallback);
    if (!/^https?:\/\/[^\s/]+$/.test(value)) {
      throw new ConfigError(`Expected ${name} to be a base URL like http://127.0.0.1:8088, got \`${value}\``);
    }
    return value;
  };

  const temporal = loadTemporalConfig(env);
  const root = path.resolve(read('AEGIS_ROOT'));
  const registry = read('AEGIS_REGISTRY', 'ghcr.io/100monkeys-ai');
  if (!/^[a-z0-9.-]+(:\d+)?(\/[a-z0-9._-]+)*$/.test(registry)) {
    throw new ConfigError(
      `Expected AEGIS_REGISTRY to be a registry path like ghcr.io/100monkeys-ai, got \`${registry}\``,
    );
  }
  return {
    temporal,
    aegis: {
      root,
      registry,
      profile: read('AEGIS_PROFILE', 'development'),
      backupDir: path.resolve(root, read('AEGIS_BACKUP_DIR', 'backups')),
      postgres: {
        host: read('AEGIS_POSTGRES_HOST', '127.0.0.1'),
        port: positiveInteger('AEGIS_POSTGRES_PORT', 5432),
      },
      runtimeUrl: url('AEGIS_RUNTIME_URL', 'http://127.0.0.1:8088'),
      sealGatewayUrl: url('AEGIS_SEAL_GATEWAY_URL', 'http://127.0.0.1:8089'),
      readyTimeoutSeconds: positiveInteger('AEGIS_READY_TIMEOUT_SECONDS', 120),
    },
    worker: {
      shutdownGraceSeconds: positiveInteger('AEGIS_SHUTDOWN_GRACE_SECONDS', 120),
    },
  };
}

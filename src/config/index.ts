import path from 'node:path';
import { DEFAULT_ENVIRONMENT, InvalidEnvironmentName, checkEnvironmentName } from '../core/environments';
import { loadTelemetryConfig, type TelemetryConfig } from './telemetry';
import { loadTemporalConfig, type TemporalConfig } from './temporal';
import { ConfigError, reader, type Env } from './variables';
import { loadWebhooks, type WebhookConfig } from './webhooks';

export { ConfigError } from './variables';
export { loadTelemetryConfig, type TelemetryConfig } from './telemetry';
export {
  TemporalUnreachable,
  describeConnection,
  loadTemporalConfig,
  type ConnectionFlags,
  type TemporalConfig,
} from './temporal';
export { redactedUrl, webhookFor, webhookVariable, type WebhookConfig } from './webhooks';

/** The profile under `profiles/` a deployment runs when AEGIS_PROFILE names none. */
export const DEFAULT_AEGIS_PROFILE = 'development';

/** Everything the worker and the CLI read from the environment, read once at start. */
export interface Config {
  temporal: TemporalConfig;
  aegis: {
    /**
     * The environment this deployment is, and the one whose upgrades its worker takes: from its own task queue
     * (`taskQueueFor`), each activity refusing a workflow of another. @default 'default' (`AEGIS_ENVIRONMENT`)
     */
    environment: string;
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
    /** Its logs and metrics. */
    telemetry: TelemetryConfig;
  };
  /** Webhooks told when an upgrade starts, waits for approval and ends. @default none (`AEGIS_WEBHOOK_URL[_<ENV>]`) */
  notifications: { webhooks: WebhookConfig };
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
  const environment = read('AEGIS_ENVIRONMENT', DEFAULT_ENVIRONMENT);
  try {
    checkEnvironmentName(environment, 'AEGIS_ENVIRONMENT');
  } catch (error) {
    if (error instanceof InvalidEnvironmentName) throw new ConfigError(error.message);
    throw error;
  }
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
      environment,
      root,
      registry,
      profile: read('AEGIS_PROFILE', DEFAULT_AEGIS_PROFILE),
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
      telemetry: loadTelemetryConfig(env),
    },
    notifications: { webhooks: loadWebhooks(env) },
  };
}

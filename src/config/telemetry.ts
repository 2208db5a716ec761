import { ConfigError, reader, type Env } from './variables';

export const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** What the worker logs and where it exports its metrics. */
export interface TelemetryConfig {
  /** The least severe line written. @default 'INFO' (`AEGIS_LOG_LEVEL`, any case) */
  logLevel: LogLevelName;
  /** One human-readable line per event, or one JSON object per line. @default 'text' (`AEGIS_LOG_FORMAT`) */
  logFormat: LogFormat;
  /**
   * Where the Prometheus endpoint `/metrics` listens, `host:port`. @default none: no endpoint (`AEGIS_METRICS_ADDRESS`)
   */
  metricsAddress?: string;
}

export function loadTelemetryConfig(env: Env): TelemetryConfig {
  const read = reader(env);
  const choice = <T extends string>(
    name: string,
    choices: readonly T[],
    fallback: T,
    normalise: (raw: string) => string,
  ) => {
    const raw = read(name, fallback);
    const value = choices.find((known) => known === normalise(raw));
    if (!value) throw new ConfigError(`Expected ${name} to be one of ${choices.join(', ')}, got \`${raw}\``);
    return value;
  };
  const metricsAddress = env.AEGIS_METRICS_ADDRESS?.trim() || undefined;
  if (metricsAddress !== undefined && !/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(metricsAddress)) {
    throw new ConfigError(
      `Expected AEGIS_METRICS_ADDRESS to be host:port like 127.0.0.1:9464, got \`${metricsAddress}\``,
    );
  }
  return {
    logLevel: choice('AEGIS_LOG_LEVEL', LOG_LEVELS, 'INFO', (raw) => raw.toUpperCase()),
    logFormat: choice('AEGIS_LOG_FORMAT', LOG_FORMATS, 'text', (raw) => raw.toLowerCase()),
    ...(metricsAddress !== undefined && { metricsAddress }),
  };
}

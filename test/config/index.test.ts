import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';
import { DEFAULT_TASK_QUEUE } from '../../src/core/upgrade';
import { thrown } from '../helpers/thrown';

const ROOT = '/srv/aegis-deploy';

describe('loadConfig', () => {
  it('fills in every documented default when only AEGIS_ROOT is set', () => {
    expect(loadConfig({ AEGIS_ROOT: ROOT })).toEqual({
      temporal: {
        connection: { address: '127.0.0.1:7233' },
        addressSource: 'default',
        namespace: 'default',
        taskQueue: DEFAULT_TASK_QUEUE,
      },
      aegis: {
        environment: 'default',
        root: ROOT,
        registry: 'ghcr.io/100monkeys-ai',
        profile: 'development',
        backupDir: path.join(ROOT, 'backups'),
        postgres: { host: '127.0.0.1', port: 5432 },
        runtimeUrl: 'http://127.0.0.1:8088',
        sealGatewayUrl: 'http://127.0.0.1:8089',
        readyTimeoutSeconds: 120,
      },
      worker: { shutdownGraceSeconds: 120, telemetry: { logLevel: 'INFO', logFormat: 'text' } },
      notifications: { webhooks: { perEnvironment: {} } },
    });
    expect(DEFAULT_TASK_QUEUE).toBe('aegis-upgrades');
  });

  it('reads every variable that is set', () => {
    const config = loadConfig({
      AEGIS_ROOT: ROOT,
      TEMPORAL_ADDRESS: 'temporal.internal:7243',
      TEMPORAL_NAMESPACE: 'ops',
      AEGIS_TASK_QUEUE: 'upgrades-eu',
      AEGIS_ENVIRONMENT: 'eu-west-1',
      AEGIS_REGISTRY: 'registry.local:5000/aegis',
      AEGIS_PROFILE: 'full',
      AEGIS_BACKUP_DIR: '/var/backups/aegis',
      AEGIS_POSTGRES_HOST: 'db.internal',
      AEGIS_POSTGRES_PORT: '5433',
      AEGIS_RUNTIME_URL: 'https://runtime.internal:8443',
      AEGIS_SEAL_GATEWAY_URL: 'http://seal.internal:8089',
      AEGIS_READY_TIMEOUT_SECONDS: '300',
      AEGIS_SHUTDOWN_GRACE_SECONDS: '600',
      AEGIS_LOG_LEVEL: 'debug',
      AEGIS_LOG_FORMAT: 'JSON',
      AEGIS_METRICS_ADDRESS: '0.0.0.0:9464',
    });

    expect(config.temporal).toEqual({
      connection: { address: 'temporal.internal:7243' },
      addressSource: 'TEMPORAL_ADDRESS',
      namespace: 'ops',
      taskQueue: 'upgrades-eu',
    });
    expect(config.aegis).toMatchObject({
      environment: 'eu-west-1',
      registry: 'registry.local:5000/aegis',
      profile: 'full',
      backupDir: '/var/backups/aegis',
      postgres: { host: 'db.internal', port: 5433 },
      runtimeUrl: 'https://runtime.internal:8443',
      sealGatewayUrl: 'http://seal.internal:8089',
      readyTimeoutSeconds: 300,
    });
    expect(config.worker).toEqual({
      shutdownGraceSeconds: 600,
      telemetry: { logLevel: 'DEBUG', logFormat: 'json', metricsAddress: '0.0.0.0:9464' },
    });
  });

  it.each(['Staging', 'eu_west', '-staging', "x' OR 'a'='a", 'a'.repeat(64)])(
    'refuses AEGIS_ENVIRONMENT=%s, naming the variable',
    (environment) => {
      expect(
        thrown(ConfigError, () => loadConfig({ AEGIS_ROOT: ROOT, AEGIS_ENVIRONMENT: environment })).message,
      ).toContain('Expected AEGIS_ENVIRONMENT to be an environment name like staging');
    },
  );

  it('resolves a relative backup directory inside the checkout', () => {
    expect(loadConfig({ AEGIS_ROOT: ROOT, AEGIS_BACKUP_DIR: 'var/dumps' }).aegis.backupDir).toBe(
      path.join(ROOT, 'var/dumps'),
    );
  });

  it('treats an empty or blank variable as unset', () => {
    expect(loadConfig({ AEGIS_ROOT: ROOT, AEGIS_PROFILE: '  ', TEMPORAL_ADDRESS: '' })).toMatchObject({
      temporal: { connection: { address: '127.0.0.1:7233' } },
      aegis: { profile: 'development' },
    });
  });

  it('fails with `AEGIS_ROOT is not set` when it is missing or blank', () => {
    expect(thrown(ConfigError, () => loadConfig({})).message).toBe('AEGIS_ROOT is not set');
    expect(thrown(ConfigError, () => loadConfig({ AEGIS_ROOT: ' ' })).message).toBe('AEGIS_ROOT is not set');
  });

  it.each(['http://127.0.0.1:7233', '127.0.0.1', 'localhost:port'])(
    'refuses TEMPORAL_ADDRESS `%s`, naming it',
    (bad) => {
      const { message } = thrown(ConfigError, () => loadConfig({ AEGIS_ROOT: ROOT, TEMPORAL_ADDRESS: bad }));

      expect(message).toBe(
        `Expected TEMPORAL_ADDRESS to be host:port like 127.0.0.1:7233 or [::1]:7233, got \`${bad}\``,
      );
    },
  );

  it.each(['postgres', '0', '-5432', '54.32'])('refuses AEGIS_POSTGRES_PORT `%s`, naming it', (bad) => {
    const { message } = thrown(ConfigError, () => loadConfig({ AEGIS_ROOT: ROOT, AEGIS_POSTGRES_PORT: bad }));

    expect(message).toBe(`Expected AEGIS_POSTGRES_PORT to be a positive whole number, got \`${bad}\``);
  });

  it('refuses a ready timeout that is not a positive whole number, naming it', () => {
    const { message } = thrown(ConfigError, () => loadConfig({ AEGIS_ROOT: ROOT, AEGIS_READY_TIMEOUT_SECONDS: '2m' }));

    expect(message).toContain('AEGIS_READY_TIMEOUT_SECONDS');
    expect(message).toContain('`2m`');
  });

  it.each([
    ['AEGIS_RUNTIME_URL', '127.0.0.1:8088'],
    ['AEGIS_RUNTIME_URL', 'http://127.0.0.1:8088/health'],
    ['AEGIS_SEAL_GATEWAY_URL', 'ftp://127.0.0.1:8089'],
  ])('refuses %s `%s`, naming it', (name, bad) => {
    const { message } = thrown(ConfigError, () => loadConfig({ AEGIS_ROOT: ROOT, [name]: bad }));

    expect(message).toBe(`Expected ${name} to be a base URL like http://127.0.0.1:8088, got \`${bad}\``);
  });

  it('refuses a registry that is not a registry path, naming it', () => {
    const { message } = thrown(ConfigError, () =>
      loadConfig({ AEGIS_ROOT: ROOT, AEGIS_REGISTRY: 'https://ghcr.io/org' }),
    );

    expect(message).toContain('AEGIS_REGISTRY');
    expect(message).toContain('`https://ghcr.io/org`');
  });

  it.each([
    [
      'AEGIS_LOG_LEVEL',
      'verbose',
      'Expected AEGIS_LOG_LEVEL to be one of TRACE, DEBUG, INFO, WARN, ERROR, got `verbose`',
    ],
    ['AEGIS_LOG_FORMAT', 'logfmt', 'Expected AEGIS_LOG_FORMAT to be one of text, json, got `logfmt`'],
    [
      'AEGIS_METRICS_ADDRESS',
      'http://127.0.0.1:9464',
      'Expected AEGIS_METRICS_ADDRESS to be host:port like 127.0.0.1:9464, got `http://127.0.0.1:9464`',
    ],
    ['AEGIS_METRICS_ADDRESS', '9464', 'Expected AEGIS_METRICS_ADDRESS to be host:port like 127.0.0.1:9464, got `9464`'],
  ])('refuses %s `%s`, naming it', (name, bad, expected) => {
    expect(thrown(ConfigError, () => loadConfig({ AEGIS_ROOT: ROOT, [name]: bad })).message).toBe(expected);
  });
});

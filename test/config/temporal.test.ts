import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, describeConnection, loadTemporalConfig } from '../../src/config';
import { DEFAULT_TASK_QUEUE } from '../../src/core/upgrade';
import { thrown } from '../helpers/thrown';

const API_KEY = 'secret-api-key-7f3a';
let dir: string;
/** A file in this test's directory, written with `text`. */
const write = (name: string, text: string): string => {
  const file = path.join(dir, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return file;
};

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aegis-upgrade-envconfig-'));
  write('ca.pem', 'CA CERTIFICATE');
  write('client.pem', 'CLIENT CERTIFICATE');
  write('client.key', 'CLIENT KEY');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The profiles of the `temporal` CLI's file, as an operator writes them. */
const PROFILES = `
[profile.default]
address = "temporal.internal:7233"
namespace = "aegis"

[profile.cloud]
address = "aegis.a1b2c.tmprl.cloud:7233"
namespace = "aegis.a1b2c"
api_key = "${API_KEY}"

[profile.mtls]
address = "temporal.secure:7233"
namespace = "ops"
[profile.mtls.tls]
server_name = "temporal.secure"
server_ca_cert_path = "CA"
client_cert_path = "CERT"
client_key_path = "KEY"
[profile.mtls.grpc_meta]
x-tenant = "aegis"

[profile.v6]
address = "[::1]:7233"
`;

function profileFile(): string {
  return write(
    'temporal.toml',
    PROFILES.replace('CA', path.join(dir, 'ca.pem'))
      .replace('CERT', path.join(dir, 'client.pem'))
      .replace('KEY', path.join(dir, 'client.key')),
  );
}

describe('loadTemporalConfig', () => {
  it('connects to 127.0.0.1:7233, namespace default, without TLS when nothing is configured', () => {
    const temporal = loadTemporalConfig({});

    expect(temporal).toEqual({
      connection: { address: '127.0.0.1:7233' },
      addressSource: 'default',
      namespace: 'default',
      taskQueue: DEFAULT_TASK_QUEUE,
    });
    expect(describeConnection(temporal)).toBe('127.0.0.1:7233 (default, no TLS)');
  });

  it('reads TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY and TEMPORAL_GRPC_META_*; an API key turns TLS on', () => {
    const temporal = loadTemporalConfig({
      TEMPORAL_ADDRESS: 'aegis.a1b2c.tmprl.cloud:7233',
      TEMPORAL_NAMESPACE: 'aegis.a1b2c',
      TEMPORAL_API_KEY: API_KEY,
      TEMPORAL_GRPC_META_TENANT: 'aegis',
      AEGIS_TASK_QUEUE: 'upgrades-eu',
    });

    expect(temporal).toEqual({
      connection: {
        address: 'aegis.a1b2c.tmprl.cloud:7233',
        tls: true,
        apiKey: API_KEY,
        metadata: { tenant: 'aegis' },
      },
      addressSource: 'TEMPORAL_ADDRESS',
      namespace: 'aegis.a1b2c',
      taskQueue: 'upgrades-eu',
    });
    expect(describeConnection(temporal)).toBe('aegis.a1b2c.tmprl.cloud:7233 (TEMPORAL_ADDRESS, TLS, API key)');
  });

  it('reads the TLS files named by TEMPORAL_TLS_*_PATH: server CA, server name, client certificate and key', () => {
    const temporal = loadTemporalConfig({
      TEMPORAL_ADDRESS: 'temporal.secure:7233',
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: path.join(dir, 'ca.pem'),
      TEMPORAL_TLS_SERVER_NAME: 'temporal.secure',
      TEMPORAL_TLS_CLIENT_CERT_PATH: path.join(dir, 'client.pem'),
      TEMPORAL_TLS_CLIENT_KEY_PATH: path.join(dir, 'client.key'),
    });

    expect(temporal.connection.tls).toEqual({
      serverNameOverride: 'temporal.secure',
      serverRootCACertificate: Buffer.from('CA CERTIFICATE'),
      clientCertPair: { crt: Buffer.from('CLIENT CERTIFICATE'), key: Buffer.from('CLIENT KEY') },
    });
    expect(describeConnection(temporal)).toBe('temporal.secure:7233 (TEMPORAL_ADDRESS, mTLS)');
  });

  it('TEMPORAL_TLS=false turns TLS off, even with an API key', () => {
    expect(loadTemporalConfig({ TEMPORAL_API_KEY: API_KEY, TEMPORAL_TLS: 'false' }).connection.tls).toBe(false);
  });

  it('reads the profile TEMPORAL_PROFILE of the file TEMPORAL_CONFIG_FILE', () => {
    const file = profileFile();

    const temporal = loadTemporalConfig({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'mtls' });

    expect(temporal).toEqual({
      connection: {
        address: 'temporal.secure:7233',
        tls: {
          serverNameOverride: 'temporal.secure',
          serverRootCACertificate: Buffer.from('CA CERTIFICATE'),
          clientCertPair: { crt: Buffer.from('CLIENT CERTIFICATE'), key: Buffer.from('CLIENT KEY') },
        },
        metadata: { 'x-tenant': 'aegis' },
      },
      addressSource: `address of profile mtls in ${file}`,
      namespace: 'ops',
      taskQueue: DEFAULT_TASK_QUEUE,
    });
    expect(loadTemporalConfig({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'cloud' }).connection).toEqual({
      address: 'aegis.a1b2c.tmprl.cloud:7233',
      tls: true,
      apiKey: API_KEY,
    });
  });

  it('reads profile default when TEMPORAL_PROFILE is unset', () => {
    expect(loadTemporalConfig({ TEMPORAL_CONFIG_FILE: profileFile() })).toMatchObject({
      connection: { address: 'temporal.internal:7233' },
      namespace: 'aegis',
    });
  });

  it('finds the file where the temporal CLI keeps it: $XDG_CONFIG_HOME, else ~/.config, /temporalio/temporal.toml', () => {
    const toml = '[profile.default]\naddress = "temporal.home:7233"\n';
    const home = path.join(dir, 'home');
    write('home/.config/temporalio/temporal.toml', toml);
    write('xdg/temporalio/temporal.toml', toml.replace('home', 'xdg'));

    expect(loadTemporalConfig({ HOME: home }).connection.address).toBe('temporal.home:7233');
    expect(loadTemporalConfig({ HOME: home, XDG_CONFIG_HOME: path.join(dir, 'xdg') }).addressSource).toBe(
      `address of profile default in ${path.join(dir, 'xdg', 'temporalio', 'temporal.toml')}`,
    );
    expect(loadTemporalConfig({ HOME: path.join(dir, 'nobody') }).connection.address).toBe('127.0.0.1:7233');
  });

  it('lets TEMPORAL_* variables override the profile, and ignores blank ones', () => {
    const temporal = loadTemporalConfig({
      TEMPORAL_CONFIG_FILE: profileFile(),
      TEMPORAL_PROFILE: 'mtls',
      TEMPORAL_ADDRESS: 'localhost:7243',
      TEMPORAL_NAMESPACE: ' ',
      TEMPORAL_TLS_SERVER_NAME: 'temporal.other',
    });

    expect(temporal).toMatchObject({
      connection: { address: 'localhost:7243', tls: { serverNameOverride: 'temporal.other' } },
      addressSource: 'TEMPORAL_ADDRESS',
      namespace: 'ops',
    });
  });

  it.each(['localhost:7233', '[::1]:7233', '127.0.0.1:7233', 'temporal-frontend.ops.svc:7233'])(
    'accepts the address `%s`',
    (address) => {
      expect(loadTemporalConfig({ TEMPORAL_ADDRESS: address }).connection.address).toBe(address);
    },
  );

  it('accepts `[::1]:7233` from a profile', () => {
    expect(loadTemporalConfig({ TEMPORAL_CONFIG_FILE: profileFile(), TEMPORAL_PROFILE: 'v6' }).connection.address).toBe(
      '[::1]:7233',
    );
  });

  it.each(['http://127.0.0.1:7233', '127.0.0.1', '::1:7233', '[::1]', 'localhost:port', 'localhost:70000'])(
    'refuses the address `%s`, naming where it comes from',
    (bad) => {
      expect(thrown(ConfigError, () => loadTemporalConfig({ TEMPORAL_ADDRESS: bad })).message).toBe(
        `Expected TEMPORAL_ADDRESS to be host:port like 127.0.0.1:7233 or [::1]:7233, got \`${bad}\``,
      );
      const file = write('bad-address.toml', `[profile.default]\naddress = "${bad}"\n`);
      expect(thrown(ConfigError, () => loadTemporalConfig({ TEMPORAL_CONFIG_FILE: file })).message).toBe(
        `Expected address of profile default in ${file} to be host:port like 127.0.0.1:7233 or [::1]:7233, got \`${bad}\``,
      );
    },
  );

  it('lets --address, --namespace and --profile come first, over the variables, and names them in its messages', () => {
    const file = profileFile();
    const env = { TEMPORAL_CONFIG_FILE: file, TEMPORAL_ADDRESS: 'localhost:7243', TEMPORAL_NAMESPACE: 'ops' };

    expect(loadTemporalConfig(env, { profile: 'mtls' })).toMatchObject({
      connection: { address: 'localhost:7243' },
      namespace: 'ops',
    });
    expect(loadTemporalConfig(env, { address: 'temporal.flag:7233', namespace: 'staging' })).toMatchObject({
      connection: { address: 'temporal.flag:7233' },
      addressSource: '--address',
      namespace: 'staging',
    });
    expect(loadTemporalConfig({ TEMPORAL_CONFIG_FILE: file }, { profile: 'mtls' })).toMatchObject({
      connection: { address: 'temporal.secure:7233' },
      namespace: 'ops',
    });
    expect(thrown(ConfigError, () => loadTemporalConfig(env, { profile: 'prod' })).message).toBe(
      `--profile is \`prod\`, but ${file} has no [profile.prod] (it has: default, cloud, mtls, v6)`,
    );
    expect(thrown(ConfigError, () => loadTemporalConfig({}, { address: 'nowhere' })).message).toBe(
      'Expected --address to be host:port like 127.0.0.1:7233 or [::1]:7233, got `nowhere`',
    );
  });

  it('refuses a profile the file does not have, listing those it has', () => {
    const file = profileFile();

    expect(
      thrown(ConfigError, () => loadTemporalConfig({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'prod' })).message,
    ).toBe(`TEMPORAL_PROFILE is \`prod\`, but ${file} has no [profile.prod] (it has: default, cloud, mtls, v6)`);
    expect(
      thrown(ConfigError, () => loadTemporalConfig({ HOME: path.join(dir, 'nobody'), TEMPORAL_PROFILE: 'prod' }))
        .message,
    ).toBe('TEMPORAL_PROFILE is `prod`, but there is no Temporal config file: set TEMPORAL_CONFIG_FILE');
  });

  it('refuses a TEMPORAL_CONFIG_FILE that cannot be read, naming it', () => {
    const missing = path.join(dir, 'missing.toml');

    expect(thrown(ConfigError, () => loadTemporalConfig({ TEMPORAL_CONFIG_FILE: missing })).message).toBe(
      `Cannot read the Temporal config file ${missing} (TEMPORAL_CONFIG_FILE): ` +
        `ENOENT: no such file or directory, open '${missing}'`,
    );
  });

  it('refuses a file that is not TOML without quoting it: it may hold an API key', () => {
    const file = write('broken.toml', `[profile.default]\napi_key = "${API_KEY}\n`);

    const error = thrown(ConfigError, () => loadTemporalConfig({ TEMPORAL_CONFIG_FILE: file }));

    expect(error.message).toMatch(
      new RegExp(`^Expected ${file} to be a TOML file of Temporal profiles: .+ \\(line 2\\)$`),
    );
    expect(error.message).not.toContain(API_KEY);
    expect(error.cause).toBeUndefined();
  });

  it('refuses a TLS file that cannot be read, naming the setting that names it', () => {
    const missing = path.join(dir, 'missing-ca.pem');
    const file = write('missing-ca.toml', `[profile.default.tls]\nserver_ca_cert_path = "${missing}"\n`);

    expect(thrown(ConfigError, () => loadTemporalConfig({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: missing })).message).toBe(
      `Cannot read ${missing}, named by TEMPORAL_TLS_SERVER_CA_CERT_PATH: ENOENT: no such file or directory, open '${missing}'`,
    );
    expect(thrown(ConfigError, () => loadTemporalConfig({ TEMPORAL_CONFIG_FILE: file })).message).toBe(
      `Cannot read ${missing}, named by tls.server_ca_cert_path of profile default in ${file}: ` +
        `ENOENT: no such file or directory, open '${missing}'`,
    );
  });

  it('refuses a client certificate without its key', () => {
    expect(
      thrown(ConfigError, () => loadTemporalConfig({ TEMPORAL_TLS_CLIENT_CERT_PATH: path.join(dir, 'client.pem') }))
        .message,
    ).toMatch(
      /^A TLS client certificate needs its key: set both TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH/,
    );
  });

  it('refuses TLS to an IPv6 address without a server name, which the worker could not check the certificate against', () => {
    expect(
      thrown(ConfigError, () => loadTemporalConfig({ TEMPORAL_ADDRESS: '[::1]:7233', TEMPORAL_TLS: 'true' })).message,
    ).toBe(
      'TLS to the IPv6 address [::1]:7233 (TEMPORAL_ADDRESS) needs a server name: set TEMPORAL_TLS_SERVER_NAME ' +
        "or tls.server_name in the profile to a name in the server's certificate, e.g. localhost",
    );
    expect(
      loadTemporalConfig({
        TEMPORAL_ADDRESS: '[::1]:7233',
        TEMPORAL_TLS: 'true',
        TEMPORAL_TLS_SERVER_NAME: 'localhost',
      }).connection.tls,
    ).toEqual({ serverNameOverride: 'localhost' });
  });

  it('never shows the API key in its description of the connection', () => {
    const temporal = loadTemporalConfig({ TEMPORAL_CONFIG_FILE: profileFile(), TEMPORAL_PROFILE: 'cloud' });

    expect(describeConnection(temporal)).toBe(
      `aegis.a1b2c.tmprl.cloud:7233 (address of profile cloud in ${path.join(dir, 'temporal.toml')}, TLS, API key)`,
    );
  });
});

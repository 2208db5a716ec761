import type { TLSConfig } from '@temporalio/client';
import {
  loadClientConfigFromToml,
  loadClientConfigProfile,
  toClientOptions,
  type ClientConfigProfile,
  type ClientConfigTLS,
} from '@temporalio/envconfig';
import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_TASK_QUEUE } from '../core/upgrade';
import { ConfigError, reader, setVariables, type Env } from './variables';

/** What the worker's `NativeConnection.connect` and the CLI's `Connection.connect` both take. */
export interface TemporalConnectionOptions {
  /** host:port; an IPv6 address in brackets, `[::1]:7233`. @default '127.0.0.1:7233' */
  address: string;
  /** `true`, or a server CA, server name and client certificate (mTLS). On by default with an API key. */
  tls?: TLSConfig | boolean;
  /** Sent as a bearer token, as Temporal Cloud expects. */
  apiKey?: string;
  /** gRPC headers sent with every call (`grpc_meta`, `TEMPORAL_GRPC_META_*`). */
  metadata?: Record<string, string>;
}

/** The Temporal connection, namespace and task queue: what the CLI needs, and the first part of the worker's. */
export interface TemporalConfig {
  /**
   * Read as every Temporal tool reads it (`@temporalio/envconfig`): the profile `TEMPORAL_PROFILE`
   * (@default 'default') of the TOML file `TEMPORAL_CONFIG_FILE` (@default '~/.config/temporalio/temporal.toml'),
   * with `TEMPORAL_ADDRESS`, `TEMPORAL_API_KEY`, `TEMPORAL_TLS_*` and `TEMPORAL_GRPC_META_*` over it.
   */
  connection: TemporalConnectionOptions;
  /** Where the address comes from, for messages: `TEMPORAL_ADDRESS`, `address of profile … in <file>`, or `default`. */
  addressSource: string;
  /** @default 'default' (`TEMPORAL_NAMESPACE`, or the profile's `namespace`) */
  namespace: string;
  /**
   * The task queue of the `default` environment; environment X's is `<taskQueue>-X` (`taskQueueFor`).
   * @default 'aegis-upgrades' (`AEGIS_TASK_QUEUE`)
   */
  taskQueue: string;
}

/** Where the `temporal` CLI and the Temporal SDKs look for their profiles when `TEMPORAL_CONFIG_FILE` is unset. */
function defaultProfileFile({ HOME, APPDATA, XDG_CONFIG_HOME }: Env): string | undefined {
  let dir: string | undefined;
  if (process.platform === 'win32') dir = APPDATA;
  else if (process.platform === 'darwin') dir = HOME && path.join(HOME, 'Library', 'Application Support');
  else if (XDG_CONFIG_HOME) dir = path.isAbsolute(XDG_CONFIG_HOME) ? XDG_CONFIG_HOME : undefined;
  else dir = HOME && path.join(HOME, '.config');
  return dir && path.join(dir, 'temporalio', 'temporal.toml');
}

interface ProfileFile {
  path: string;
  toml: string;
  profiles: Record<string, ClientConfigProfile>;
}

function readProfileFile(env: Record<string, string>): ProfileFile | undefined {
  const named = env.TEMPORAL_CONFIG_FILE;
  const file = named ?? defaultProfileFile(env);
  if (file === undefined) return undefined;
  let toml: string;
  try {
    toml = fs.readFileSync(file, 'utf8');
  } catch (error) {
    // No file at the default place is the usual case; a file named on purpose must be there.
    if (!named && (error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigError(
      `Cannot read the Temporal config file ${file}${named ? ' (TEMPORAL_CONFIG_FILE)' : ''}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  try {
    return { path: file, toml, profiles: loadClientConfigFromToml(Buffer.from(toml), { strict: false }).profiles };
  } catch (error) {
    // Its first line only, and no cause: the rest quotes the file, which may hold an API key.
    const [reason] = (error as Error).message.split('\n');
    const where = 'line' in (error as object) ? ` (line ${(error as { line: number }).line})` : '';
    throw new ConfigError(`Expected ${file} to be a TOML file of Temporal profiles: ${reason}${where}`);
  }
}

const TLS_FILES = [
  ['serverCACert', 'TEMPORAL_TLS_SERVER_CA_CERT_PATH', 'tls.server_ca_cert_path'],
  ['clientCert', 'TEMPORAL_TLS_CLIENT_CERT_PATH', 'tls.client_cert_path'],
  ['clientKey', 'TEMPORAL_TLS_CLIENT_KEY_PATH', 'tls.client_key_path'],
] as const;

/** The TLS settings with their files read, so an unreadable one is reported by the setting that names it. */
function readTlsFiles(
  tls: ClientConfigTLS | undefined,
  origin: (variable: string, key: string) => string,
): ClientConfigTLS | undefined {
  if (!tls || tls.disabled) return tls;
  if (!tls.clientCert !== !tls.clientKey) {
    throw new ConfigError(
      `A TLS client certificate needs its key: set both TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH, ` +
        `or tls.client_cert_path and tls.client_key_path in the profile`,
    );
  }
  const read = { ...tls };
  for (const [field, variable, key] of TLS_FILES) {
    const source = tls[field];
    if (!source || !('path' in source)) continue;
    try {
      read[field] = { data: fs.readFileSync(source.path) };
    } catch (error) {
      throw new ConfigError(
        `Cannot read ${source.path}, named by ${origin(variable, key)}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  }
  return read;
}

/** host:port, the host a name, an IPv4 address or an IPv6 address in brackets. */
function isHostPort(address: string): boolean {
  const port = /^(?:\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):(\d{1,5})$/.exec(address)?.[1];
  return port !== undefined && Number(port) >= 1 && Number(port) <= 65_535;
}

/** The CLI's `--address`, `--namespace` and `--profile`: over the variables they stand for, as in the `temporal` CLI. */
export interface ConnectionFlags {
  address?: string;
  namespace?: string;
  profile?: string;
}

const FLAG_OF_VARIABLE: Record<string, keyof ConnectionFlags> = {
  TEMPORAL_ADDRESS: 'address',
  TEMPORAL_NAMESPACE: 'namespace',
  TEMPORAL_PROFILE: 'profile',
};

/** The Temporal part alone: all the CLI reads; `flags` come first. */
export function loadTemporalConfig(env: Env = process.env, flags: ConnectionFlags = {}): TemporalConfig {
  const set = setVariables(env);
  for (const [variable, flag] of Object.entries(FLAG_OF_VARIABLE)) {
    const value = flags[flag];
    if (value !== undefined) set[variable] = value;
  }
  /** Where a value came from, in messages: the flag that gave it, else its variable. */
  const named = (variable: string) => {
    const flag = FLAG_OF_VARIABLE[variable];
    return flag && flags[flag] !== undefined ? `--${flag}` : variable;
  };
  const file = readProfileFile(set);
  const profileName = set.TEMPORAL_PROFILE ?? 'default';
  if (set.TEMPORAL_PROFILE && !file?.profiles[profileName]) {
    throw new ConfigError(
      file
        ? `${named('TEMPORAL_PROFILE')} is \`${profileName}\`, but ${file.path} has no [profile.${profileName}] ` +
            `(it has: ${Object.keys(file.profiles).join(', ') || 'none'})`
        : `${named('TEMPORAL_PROFILE')} is \`${profileName}\`, but there is no Temporal config file: set TEMPORAL_CONFIG_FILE`,
    );
  }
  const origin = (variable: string, key: string) =>
    set[variable] !== undefined ? named(variable) : `${key} of profile ${profileName} in ${file?.path}`;

  let profile: ClientConfigProfile;
  try {
    profile = loadClientConfigProfile({
      configSource: file && { data: file.toml },
      disableFile: !file,
      profile: profileName,
      overrideEnvVars: set,
    });
  } catch (error) {
    throw new ConfigError(`Cannot load the Temporal connection settings: ${(error as Error).message}`);
  }
  const address = profile.address ?? '127.0.0.1:7233';
  const addressSource = profile.address === undefined ? 'default' : origin('TEMPORAL_ADDRESS', 'address');
  if (!isHostPort(address)) {
    throw new ConfigError(
      `Expected ${addressSource} to be host:port like 127.0.0.1:7233 or [::1]:7233, got \`${address}\``,
    );
  }
  // TLS as the SDK reads it: on with an API key unless TEMPORAL_TLS=false or `disabled = true`.
  const { tls } = toClientOptions({ ...profile, tls: readTlsFiles(profile.tls, origin) }).connectionOptions;
  // The worker's SDK core takes the host as the name to check the certificate against, and `[::1]` is no name.
  if (tls && address.startsWith('[') && !(typeof tls === 'object' && tls.serverNameOverride)) {
    throw new ConfigError(
      `TLS to the IPv6 address ${address} (${addressSource}) needs a server name: set TEMPORAL_TLS_SERVER_NAME ` +
        `or tls.server_name in the profile to a name in the server's certificate, e.g. localhost`,
    );
  }
  const { apiKey, grpcMeta: metadata } = profile;
  return {
    connection: {
      address,
      ...(tls !== undefined && tls !== null && { tls }),
      ...(apiKey !== undefined && { apiKey }),
      ...(metadata !== undefined && { metadata }),
    },
    addressSource,
    namespace: profile.namespace ?? 'default',
    taskQueue: reader(env)('AEGIS_TASK_QUEUE', DEFAULT_TASK_QUEUE),
  };
}

/** `127.0.0.1:7233 (TEMPORAL_ADDRESS, TLS)`, for start-up lines and errors: it never shows a key. */
export function describeConnection({ connection, addressSource }: TemporalConfig): string {
  const { tls, apiKey } = connection;
  const security = !tls ? 'no TLS' : typeof tls === 'object' && tls.clientCertPair ? 'mTLS' : 'TLS';
  return `${connection.address} (${[addressSource, security, ...(apiKey ? ['API key'] : [])].join(', ')})`;
}

/** No answer from the Temporal server: at the connection, or when it goes away during a command. */
export class TemporalUnreachable extends Error {
  override readonly name = 'TemporalUnreachable';
  constructor(
    readonly server: string,
    cause: unknown,
  ) {
    // The first line only: gRPC's own messages may go on with details the operator cannot act on.
    super(`Cannot reach the Temporal server at ${server}: ${firstLine(cause)}`, { cause });
  }
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n', 1)[0] ?? '';
}

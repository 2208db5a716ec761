import { execa, type ResultPromise } from 'execa';
import { Connection } from '@temporalio/client';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { UPGRADE_SEARCH_ATTRIBUTES, searchAttributeTypeName } from '../../src/core/search-attributes';
import { MissingDependency, REPO_ROOT } from './repo';

/** The real Temporal dev server (the `temporal` CLI built by the bootstrap), on a free port, state in SQLite. */
export interface DevServer {
  address: string;
  dbFile: string;
  /** The server's process id (the CLI's `exec`ed binary); a restart changes it. */
  pid(): number | undefined;
  stop(): Promise<void>;
  /** Stops and starts it again on the same port and database file: its state survives (not with `database: 'memory'`). */
  restart(): Promise<void>;
}

const TEMPORAL_CLI = path.join(REPO_ROOT, 'scripts', 'temporal.sh');

/**
 * The `temporal` CLI binary the bootstrap built, where scripts/lib/temporal-cli.sh says it is. Fails, never skips,
 * when it is missing or not the expected build; scripts/temporal.sh would try to build it instead, which takes minutes.
 */
export async function temporalCliBinary(): Promise<string> {
  const found = await execa(
    'bash',
    [
      '-c',
      'source scripts/lib/common.sh && source scripts/lib/temporal-cli.sh && echo "$TEMPORAL_CLI_BIN" && temporal_cli_ok',
    ],
    { cwd: REPO_ROOT, reject: false },
  );
  if (found.exitCode !== 0) {
    throw new MissingDependency(
      `The temporal CLI is missing or not the expected build at ${found.stdout.trim() || '(unknown)'}`,
      'Run `npm run bootstrap` (it builds it with Go into ~/.cache/aegis-upgrade), or `npm run --silent temporal -- --version`',
    );
  }
  return found.stdout.trim();
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface DevServerOptions {
  /**
   * Where the server keeps its state. `memory` writes no file: on disk each write waits for its fsync, which
   * serialises many concurrent upgrades (a load benchmark would measure the disk); `restart` then loses the state.
   * @default 'file'
   */
  database?: 'file' | 'memory';
  /** Dynamic config values, e.g. `{ 'limit.historyCount.suggestContinueAsNew': 20 }`. @default none */
  dynamicConfig?: Record<string, string | number>;
  /** The address it listens on; `0.0.0.0` answers at every address of this host. @default '127.0.0.1' */
  ip?: string;
  /** Its port, e.g. one a worker was told before the server started. @default a free port */
  port?: number;
}

export async function startDevServer({
  database = 'file',
  dynamicConfig = {},
  ip = '127.0.0.1',
  port: chosenPort,
}: DevServerOptions = {}): Promise<DevServer> {
  const port = chosenPort ?? (await freePort());
  const uiPort = await freePort();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-upgrade-temporal-'));
  const dbFile = path.join(dir, 'temporal.db');
  const address = `127.0.0.1:${port}`;
  let child: ResultPromise | undefined;

  const start = async () => {
    child = execa(
      'bash',
      [
        TEMPORAL_CLI,
        'server',
        'start-dev',
        '--headless',
        '--ip',
        ip,
        '--port',
        String(port),
        '--ui-port',
        String(uiPort),
        ...(database === 'file' ? ['--db-filename', dbFile] : []),
        '--log-level',
        'error',
        ...Object.entries(dynamicConfig).flatMap(([key, value]) => ['--dynamic-config-value', `${key}=${value}`]),
        // Every test server has the upgrade's search attributes, as `npm run dev-server` and `aegis-upgrade setup` give.
        ...UPGRADE_SEARCH_ATTRIBUTES.flatMap(({ name, type }) => [
          '--search-attribute',
          `${name}=${searchAttributeTypeName(type)}`,
        ]),
      ],
      { reject: false, stdio: 'ignore' },
    );
    await waitForServer(address, child);
  };
  const stop = async () => {
    child?.kill('SIGTERM');
    await child;
  };
  await start();
  return {
    address,
    dbFile,
    pid: () => child?.pid,
    stop: async () => {
      await stop();
      await fs.rm(dir, { recursive: true, force: true });
    },
    restart: async () => {
      await stop();
      await start();
    },
  };
}

async function waitForServer(address: string, child: ResultPromise): Promise<void> {
  const deadline = Date.now() + 60_000;
  let exited = false;
  void child.then(() => (exited = true));
  for (;;) {
    if (exited) {
      throw new MissingDependency(
        'The Temporal dev server exited at start',
        'Run `npm run bootstrap` to build the temporal CLI, then `npm run --silent temporal -- --version`',
      );
    }
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1_000 });
      await connection.healthService.check({});
      await connection.close();
      return;
    } catch (error) {
      if (Date.now() > deadline)
        throw new MissingDependency(
          `The Temporal dev server at ${address} did not answer`,
          'See `npm run dev-server`',
          { cause: error },
        );
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

import {
  Client,
  Connection,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { execa } from 'execa';
import fs from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { DEFAULT_ENVIRONMENT } from '../../src/core/environments';
import {
  UPGRADE_WORKFLOW_TYPE,
  upgradeWorkflowId,
  type UpgradeReport,
  type UpgradeRequest,
} from '../../src/core/upgrade';
import { useLeakCheck, type Secrets } from './leaks';
import { sandbox, sandboxEnv } from './sandbox';
import { startDevServer, type DevServer } from './temporal-server';
import { asCheckoutOwner, startWorker, type WorkerProcess } from './worker-process';

/** A real Temporal dev server and the sandbox platform, shared by the tests of one file. */
export interface Platform {
  server: DevServer;
  client: Client;
  /** The worker's environment: the sandbox's variables, this server, a task queue of the file's own. */
  env: Record<string, string>;
  root: string;
  /** The secrets of the checkout's `.env` seen so far; after each test none may be in a history (see `useLeakCheck`). */
  secrets: Secrets;
  startWorker(extra?: Record<string, string>): Promise<WorkerProcess>;
}

/** How long bringing up the server and the sandbox may take: the first `up` builds images. */
export const SETUP_TIMEOUT_MS = 20 * 60_000;

/**
 * `env` overrides the worker's environment for the whole file, e.g. its task queue. After each test, every workflow on
 * the server and every backup of the checkout are checked for leaks.
 */
export function usePlatform(env: Record<string, string> = {}): Platform {
  const platform = {} as Platform;
  let connection: Connection | undefined;
  beforeAll(async () => {
    platform.server = await startDevServer();
    await sandbox('up');
    const sandboxVariables = await sandboxEnv();
    platform.env = {
      ...(process.env as Record<string, string>),
      ...sandboxVariables,
      TEMPORAL_ADDRESS: platform.server.address,
      AEGIS_TASK_QUEUE: `aegis-upgrades-test-${randomUUID().slice(0, 8)}`,
      AEGIS_READY_TIMEOUT_SECONDS: '40',
      ...env,
    };
    platform.root = sandboxVariables.AEGIS_ROOT ?? '';
    connection = await Connection.connect({ address: platform.server.address });
    platform.client = new Client({ connection });
    platform.startWorker = (extra = {}) => startWorker({ ...platform.env, ...extra });
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => {
    await connection?.close();
    await platform.server?.stop();
  });
  platform.secrets = useLeakCheck(() => ({ client: platform.client, roots: [platform.root] }));
  return platform;
}

/** Ends what a test left on the server (a failed test's running upgrade, its schedules): the next test starts clean. */
export async function clearServer(client: Client | undefined): Promise<void> {
  if (!client) return;
  for await (const schedule of client.schedule.list()) await client.schedule.getHandle(schedule.scheduleId).delete();
  for await (const run of client.workflow.list({ query: "ExecutionStatus = 'Running'" })) {
    await terminateIfRunning(client.workflow.getHandle(run.workflowId, run.runId));
  }
}

/**
 * Terminates a run a test left behind, found in the server's list of running ones: that list (visibility) is a moment
 * behind, so a run it lists may have ended since, which is what the cleanup wanted (CI once failed on it).
 */
export async function terminateIfRunning(handle: WorkflowHandle): Promise<void> {
  await handle.terminate('test cleanup').catch((error: unknown) => {
    if (!(error instanceof WorkflowNotFoundError)) throw error;
  });
}

let lastStart = 0;

/**
 * A workflow ID of its own for each upgrade of the sandbox's environment (`default`, the worker's): the form a schedule
 * gives its runs, the time unique to the millisecond. The worker refuses an ID that names another environment.
 */
export function newUpgradeId(environment = DEFAULT_ENVIRONMENT): string {
  lastStart = Math.max(Date.now(), lastStart + 1);
  return `${upgradeWorkflowId(environment)}-${new Date(lastStart).toISOString()}`;
}

export async function startUpgrade(platform: Platform, request: UpgradeRequest, workflowId = newUpgradeId()) {
  return platform.client.workflow.start(UPGRADE_WORKFLOW_TYPE, {
    taskQueue: platform.env.AEGIS_TASK_QUEUE ?? '',
    workflowId,
    args: [request],
  });
}

/** The ApplicationFailure an upgrade ended with, and its report. */
export async function upgradeFailure(
  result: Promise<unknown>,
): Promise<{ type: string; message: string; report: UpgradeReport }> {
  try {
    await result;
  } catch (error) {
    if (error instanceof WorkflowFailedError && error.cause instanceof ApplicationFailure) {
      return {
        type: error.cause.type ?? '',
        message: error.cause.message,
        report: error.cause.details?.[0] as UpgradeReport,
      };
    }
    throw error;
  }
  throw new Error('Expected the upgrade to fail, but it completed');
}

/**
 * The host's side of the checkout at `root`, as its owner sees it: what `bin/aegis --version` says, and the FUSE daemon
 * (`systemctl --user`: the sandbox's stand-in), active or not, on the version its running process said it started as.
 */
export async function hostCliState(root: string): Promise<{ binary: string; daemon: string }> {
  const asOwner = async (file: string, args: string[]) => {
    const owned = asCheckoutOwner({ file, args }, { ...(process.env as Record<string, string>), AEGIS_ROOT: root });
    const result = await execa(owned.command.file, owned.command.args, {
      env: owned.env,
      extendEnv: false,
      reject: false,
    });
    return `${result.stdout}\n${result.stderr}`.trim();
  };
  const binary = await asOwner(path.join(root, 'bin', 'aegis'), ['--version']);
  const status = await asOwner('systemctl', ['--user', 'status', 'aegis-fuse-daemon', '--no-pager']);
  const active = /Active: (\S+ \(\S+\))/.exec(status)?.[1] ?? status;
  const started = status
    .split('\n')
    .map((line) => /aegis (\S+) fuse-daemon started/.exec(line)?.[1])
    .filter(Boolean)
    .at(-1);
  return { binary, daemon: `${active}${started ? `, started as aegis ${started}` : ''}` };
}

export async function imageTag(root: string): Promise<string | undefined> {
  return /^AEGIS_IMAGE_TAG=(.*)$/m.exec(await fs.readFile(path.join(root, '.env'), 'utf8'))?.[1];
}

/**
 * The podman a host's commands use: the main sandbox's platform user's by default, a deployment's own platform user
 * (`AEGIS_PLATFORM_USER`, sandbox/deployments.sh) for one of several deployments.
 */
export type PodmanHost = Record<string, string>;

/** The image each AEGIS container runs, e.g. `{ 'aegis-core-aegis-runtime': '…/aegis-runtime:1.2.0' }`. */
export async function runningImages(host: PodmanHost = {}): Promise<Record<string, string>> {
  const { stdout } = await execa('podman', ['ps', '--filter', 'name=^aegis-', '--format', '{{.Names}} {{.Image}}'], {
    env: host,
  });
  return Object.fromEntries(
    stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split(' ') as [string, string]),
  );
}

export async function psql(sql: string, database = 'aegis', host: PodmanHost = {}): Promise<string> {
  const { stdout } = await execa(
    'podman',
    ['exec', 'aegis-database-postgres', 'psql', '-X', '-At', '-U', 'aegis', '-d', database, '-c', sql],
    { env: host },
  );
  return stdout.trim();
}

/** Schema and rows of one database (`aegis` by default) as plain SQL, for comparing a state before and after. */
export async function dumpRuntimeDatabase(database = 'aegis', host: PodmanHost = {}): Promise<string> {
  const { stdout } = await execa(
    'podman',
    ['exec', 'aegis-database-postgres', 'pg_dump', '-U', 'aegis', '--no-owner', database],
    { env: host },
  );
  return withoutRestrictKey(stdout);
}

/** pg_dump 15.x brackets its output with a random `\restrict` key: not part of the state. */
const withoutRestrictKey = (dump: string) => dump.replace(/^\\(un)?restrict .*$/gm, '');

/** Every database of the platform's cluster but `postgres` and the templates, by name, as plain SQL. */
export async function dumpEveryDatabase(): Promise<Record<string, string>> {
  const names = (
    await psql(
      "select datname from pg_database where not datistemplate and datname <> 'postgres' order by 1",
      'postgres',
    )
  ).split('\n');
  // One `podman exec` for all of them (each costs more CPU than its pg_dump): every dump follows a line of its own
  // that names it, a separator no SQL line starts with.
  const separator = '\u001e-- aegis-upgrade test dump of ';
  const { stdout } = await execa('podman', [
    'exec',
    'aegis-database-postgres',
    'sh',
    '-ec',
    'for db in "$@"; do printf "%s%s\\n" "$0" "$db"; pg_dump -U aegis --no-owner "$db"; done',
    separator,
    ...names,
  ]);
  const dumps: Record<string, string> = {};
  for (const part of stdout.split(separator).slice(1)) {
    const name = part.slice(0, part.indexOf('\n'));
    dumps[name] = withoutRestrictKey(part.slice(name.length + 1)).trimEnd();
  }
  const missing = names.filter((name) => !dumps[name]);
  if (missing.length > 0)
    throw new Error(`No dump of ${missing.join(', ')} in the output of pg_dump: ${stdout.slice(0, 500)}`);
  return dumps;
}

/**
 * The sandbox's record of the make targets it ran, e.g. `redeploy POD=core AEGIS_IMAGE_TAG=1.3.0`. A missing log
 * fails: "nothing ran" must be read from the log the sandbox keeps, not assumed from its absence.
 */
export async function commandLog(env: Record<string, string>): Promise<string[]> {
  const file = env.AEGIS_SANDBOX_COMMAND_LOG;
  if (!file) throw new Error('AEGIS_SANDBOX_COMMAND_LOG is not set: take the environment from `sandbox.sh env`');
  const text = await fs.readFile(file, 'utf8').catch((error: unknown) => {
    throw new Error(`The sandbox's command log ${file} cannot be read: \`sandbox.sh up\` or \`reset\` creates it`, {
      cause: error,
    });
  });
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => line.replace(/^\S+\s+/, ''));
}

/**
 * The entries of the deploy checkout's `backups/` (the worker's default backup directory). A missing directory fails:
 * `sandbox.sh reset` leaves it empty, so "no backup taken" is read from it, never assumed from a wrong path.
 */
export async function backupsIn(root: string): Promise<string[]> {
  const directory = path.join(root, 'backups');
  return fs.readdir(directory).catch((error: unknown) => {
    throw new Error(`The backup directory ${directory} cannot be read: \`sandbox.sh reset\` creates it`, {
      cause: error,
    });
  });
}

export async function waitFor(check: () => Promise<boolean>, timeoutMs = 5 * 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // Looks again soon at first (most conditions hold within a second), then every 500 ms (a check may exec podman).
  for (let interval = 50; !(await check()); interval = Math.min(interval * 2, 500)) {
    if (Date.now() > deadline) throw new Error(`Condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

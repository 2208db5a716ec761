import { execa, type ResultPromise } from 'execa';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathWithoutPlatformPodman } from './platform-user';
import { MissingDependency, REPO_ROOT } from './repo';

const WORKER_ENTRY = path.join(REPO_ROOT, 'dist', 'src', 'worker.js');

/** The worker as operators run it (`npm start`): its own process, so a test can SIGKILL it. */
export interface WorkerProcess {
  pid: number;
  output(): string;
  /** SIGTERM, as a service manager stops it; resolves once the process has ended with its exit code, or the signal that ended it. */
  stop(): Promise<number | string | undefined>;
  kill(): Promise<number | string | undefined>;
  /**
   * SIGKILL to the worker and every process it started (its `make`, `podman`, `pg_dump`), as a host that dies or a
   * service manager that kills the whole unit does: nothing it began goes on behind the next worker.
   */
  killTree(): Promise<number | string | undefined>;
}

/** The process and all its descendants, parents first. */
async function processTree(pid: number): Promise<number[]> {
  const { stdout } = await execa('ps', ['-eo', 'pid=,ppid=']);
  const children = new Map<number, number[]>();
  for (const line of stdout.split('\n')) {
    const [child, parent] = line.trim().split(/\s+/).map(Number);
    if (child && parent !== undefined) children.set(parent, [...(children.get(parent) ?? []), child]);
  }
  const tree = [pid];
  for (let index = 0; index < tree.length; index++) tree.push(...(children.get(tree[index] ?? 0) ?? []));
  return tree;
}

/** Another way to start it than `node dist/src/worker.js`, e.g. an installed package's `aegis-upgrade worker`. */
export interface WorkerCommand {
  file: string;
  args: string[];
  cwd?: string;
}

/**
 * The command and environment that run `command` as the owner of the worker's deploy checkout (`AEGIS_ROOT`), as on an
 * AEGIS host: the checkout, its pods (rootless) and the worker are the platform's user's (scripts/lib/platform-user.sh).
 * A checkout of the test's own user (a bare directory of a test on the dev server alone) runs it as that user.
 */
export function asCheckoutOwner(
  command: WorkerCommand,
  env: Record<string, string>,
): { command: WorkerCommand; env: Record<string, string> } {
  const root = env.AEGIS_ROOT;
  const owner = root && fs.existsSync(root) ? fs.statSync(root).uid : process.getuid?.();
  if (owner === undefined || owner === process.getuid?.()) return { command, env };
  const [name, , , gid, , home] = execFileSync('getent', ['passwd', String(owner)], { encoding: 'utf8' })
    .trim()
    .split(':');
  return {
    command: {
      ...command,
      file: 'setpriv',
      args: [`--reuid=${owner}`, `--regid=${gid}`, '--init-groups', '--', command.file, ...command.args],
    },
    env: {
      ...env,
      // Its podman is the platform user's own: the tests' way to it (test/helpers/as-platform-user) is not on its PATH.
      PATH: pathWithoutPlatformPodman(env.PATH ?? process.env.PATH),
      HOME: home ?? '/',
      USER: name ?? '',
      LOGNAME: name ?? '',
      XDG_RUNTIME_DIR: `/run/user/${owner}`,
    },
  };
}

/** The worker's start-up line (src/worker.ts): it polls its task queue from then on. */
export const WORKER_READY_LINE = 'aegis-upgrade worker: task queue ';

/**
 * Starts the worker and resolves once its output holds `until` (its start-up line unless told otherwise: a test of a
 * worker that waits for its server names the line it waits at). A worker that exits first, or does not say it within
 * 60 s, fails the start with what it printed: a warning or a refusal is not a start.
 */
export async function startWorker(
  env: Record<string, string>,
  command?: WorkerCommand,
  { until = WORKER_READY_LINE }: { until?: string } = {},
): Promise<WorkerProcess> {
  if (!command && !fs.existsSync(WORKER_ENTRY)) {
    throw new MissingDependency(`${WORKER_ENTRY} is missing`, 'Run `npm run build` (npm test does it first)');
  }
  const owned = asCheckoutOwner(command ?? { file: 'node', args: [WORKER_ENTRY] }, env);
  const { file, args, cwd } = owned.command;
  const child: ResultPromise = execa(file, args, {
    cwd,
    env: owned.env,
    reject: false,
    all: true,
    buffer: false,
    // A stopped worker may take its shutdown grace time (120 s by default): no SIGKILL after execa's 5 s.
    forceKillAfterDelay: false,
  });
  let output = '';
  child.all?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 60_000;
  while (!output.includes(until)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`The worker did not start:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const end = async (signal: NodeJS.Signals) => {
    child.kill(signal);
    const result = await child;
    return result.exitCode ?? result.signal;
  };
  const killTree = async () => {
    for (const pid of await processTree(child.pid ?? 0)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    const result = await child;
    return result.exitCode ?? result.signal;
  };
  return {
    pid: child.pid ?? 0,
    output: () => output,
    stop: () => end('SIGTERM'),
    kill: () => end('SIGKILL'),
    killTree,
  };
}

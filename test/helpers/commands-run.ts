import fs from 'node:fs/promises';

/**
 * The journal of commands (sandbox/faults/shim.sh, `AEGIS_SANDBOX_COMMANDS_RUN`): every podman, make and systemctl
 * command the worker ran, when it started, and how it ended. A command killed with the worker has no end. It proves what the
 * workflow's history cannot: an activity retried after a crash is not scheduled again, yet it may run its commands
 * again.
 */
export interface CommandRun {
  id: string;
  /** The command that ran this one (a make's podman), or undefined for the worker's own. */
  parent?: string;
  /** `<program> <arguments…> AEGIS_IMAGE_TAG=<tag in .env when it started>`, secrets written ***. */
  command: string;
  /** Undefined when it never ended: killed with the worker. */
  exitCode?: number;
  held: boolean;
}

/**
 * The commands that change the platform: pulls, pins, dumps, restores, database changes, stops, starts, make, the FUSE
 * daemon's restarts.
 */
export const CHANGES: readonly { kind: string; pattern: RegExp }[] = [
  { kind: 'pull', pattern: /^podman pull / },
  { kind: 'pin', pattern: /^podman tag / },
  { kind: 'dump', pattern: /^podman exec .*\bpg_dump(all)? / },
  // `pg_restore --list` only reads a dump (the restore checks its dumps with it).
  { kind: 'restore', pattern: /^podman exec .*\bpg_restore (?!--list)/ },
  { kind: 'database', pattern: /^podman exec .*\bpsql .*\b(create|drop|alter) database\b/i },
  { kind: 'stop or start', pattern: /^podman (pod )?(stop|start) / },
  // The target, after the checkout (`make -C <checkout> <target>`): not `validate`, `registry-login`, which only look.
  { kind: 'make', pattern: /^make -C \S+ (redeploy|deploy|teardown|bootstrap-secrets)\b/ },
  // The FUSE daemon (re)started, on the host's binary (docs/host-cli.md).
  { kind: 'daemon', pattern: /^systemctl --user (restart|start|stop) / },
];

/**
 * Changes that may succeed twice, each proven harmless, and only when the worker was killed between the two: the
 * activity was retried whole, and these steps of it start over.
 */
export const STARTS_OVER: readonly { reason: string; pattern: RegExp }[] = [
  {
    // Each dump is written to its own `.partial` file, renamed once whole: taken again, it replaces nothing kept.
    reason: "the backup's dumps",
    pattern: /^podman exec .*\bpg_dump(all)? /,
  },
  { reason: 'the running images pinned again', pattern: /^podman tag / },
  { reason: 'a pod stopped for its redeploy', pattern: /^podman pod stop / },
  { reason: 'the writers stopped', pattern: /^podman stop / },
  {
    // A full redeploy tears the profile down before it deploys it: a retry of one cut short tears down again.
    reason: "the full redeploy's teardown",
    pattern: /^make -C \S+ teardown\b/,
  },
  {
    // The restore fills a scratch database, dropped and made again by a retry, before it swaps it in.
    reason: "the restore's scratch database",
    pattern: /^podman exec .*(\bpg_restore .*aegis__restoring|\bpsql .*aegis__restoring)/,
  },
];

export async function readCommandsRun(env: Record<string, string>): Promise<CommandRun[]> {
  const file = env.AEGIS_SANDBOX_COMMANDS_RUN;
  if (!file) throw new Error('AEGIS_SANDBOX_COMMANDS_RUN is not set: take the environment from `sandbox.sh env`');
  const text = await fs.readFile(file, 'utf8').catch((error: unknown) => {
    throw new Error(`The journal of commands ${file} cannot be read: \`sandbox.sh up\` or \`reset\` creates it`, {
      cause: error,
    });
  });
  return parseCommandsRun(text);
}

export function parseCommandsRun(text: string): CommandRun[] {
  const runs = new Map<string, CommandRun>();
  for (const line of text.split('\n').filter(Boolean)) {
    const [id = '', event, ...rest] = line.split('\t');
    if (event === 'start') {
      const [parent, ...command] = rest;
      runs.set(id, { id, parent: parent === '-' ? undefined : parent, command: command.join('\t'), held: false });
      continue;
    }
    const run = runs.get(id);
    if (!run) throw new Error(`The journal of commands has "${event}" for ${id}, which never started: ${line}`);
    if (event === 'end') run.exitCode = Number(rest[0]);
    else if (event === 'held') run.held = true;
    else throw new Error(`The journal of commands has an unknown line: ${line}`);
  }
  return [...runs.values()];
}

export interface ChangesChecked {
  /** Changes the worker ran that succeeded. */
  succeeded: number;
  /** The repeats found, by the reason they are harmless. */
  harmless: string[];
}

/**
 * No change the worker ran succeeded twice, but those `STARTS_OVER` allows after a kill; and each of `including`
 * (the steps the report lists) ran: succeeded at most once, and, if never, cut by the kill (its effect then found in
 * place by the retry).
 */
export function checkEachChangeOnce(
  runs: CommandRun[],
  { killed, including = [] }: { killed: boolean; including?: readonly RegExp[] },
) {
  const worker = runs.filter((run) => run.parent === undefined);
  const changes = worker.filter((run) => CHANGES.some(({ pattern }) => pattern.test(run.command)));
  const succeeded = changes.filter((run) => run.exitCode === 0);
  const byCommand = new Map<string, number>();
  for (const run of succeeded) byCommand.set(run.command, (byCommand.get(run.command) ?? 0) + 1);
  const notHarmless: string[] = [];
  const harmless: string[] = [];
  for (const [command, count] of byCommand) {
    if (count < 2) continue;
    const allowed = killed ? STARTS_OVER.find(({ pattern }) => pattern.test(command)) : undefined;
    if (allowed) harmless.push(allowed.reason);
    else notHarmless.push(`${count}× ${command}`);
  }
  const ranOnce = including.map((pattern) => {
    const matching = worker.filter((run) => pattern.test(run.command));
    const done = matching.filter((run) => run.exitCode === 0).length;
    const cut = matching.filter((run) => run.exitCode === undefined).length;
    return { pattern: String(pattern), once: done === 1 || (done === 0 && killed && cut > 0) };
  });
  return { notHarmless, ranOnce, checked: { succeeded: succeeded.length, harmless } };
}

/** `checkEachChangeOnce` on the sandbox's journal, as a test's expectation; returns what it checked. */
export async function expectEachChangeOnce(
  env: Record<string, string>,
  options: { killed: boolean; including?: readonly RegExp[] },
): Promise<ChangesChecked> {
  const runs = await readCommandsRun(env);
  if (runs.length === 0)
    throw new Error('The journal of commands is empty: did the worker run through the fault shim?');
  const { notHarmless, ranOnce, checked } = checkEachChangeOnce(runs, options);
  expect({ notHarmless, ranOnce }).toEqual({
    notHarmless: [],
    ranOnce: ranOnce.map(({ pattern }) => ({ pattern, once: true })),
  });
  return checked;
}

/**
 * The platform user's systemd units (`systemctl --user`): the FUSE daemon is one (docs/host-cli.md). Read with
 * `systemctl --user show`, whose `Key=value` lines are the interface systemd keeps stable for scripts.
 */
import { CommandFailed, DaemonNotRunning } from '../core/errors';
import type { CommandOptions, CommandResult } from './command';
import { pause } from './heartbeat';
import { tcpProbe } from '../net/tcp';

/** Runs `systemctl --user <args>` (the deployment's `host('systemctl', …)`). */
export type UserSystemctl = (args: readonly string[], options?: CommandOptions) => Promise<CommandResult>;

/** A unit as `systemctl --user show` tells it. */
export interface UnitState {
  /** `loaded`; `not-found` when no unit file of that name is installed. */
  load: string;
  /** `active`, `activating`, `inactive`, `failed`, … */
  active: string;
  /** `running`, `auto-restart`, `dead`, … */
  sub: string;
  /** 0 when no main process runs. */
  mainPid: number;
  /** Restarts since the unit was last started by hand (Restart=). */
  restarts: number;
}

/**
 * How long a restarted unit must keep one main process to count as up, when it has no address to answer on: longer
 * than the real unit's RestartSec (3 s).
 */
export const UNIT_STEADY_MS = 5_000;
/** How long a connection to the unit's listening address may take to be accepted, each time it is tried. */
const LISTEN_PROBE_MS = 1_000;
/** How long a restarted unit may take to be up and steady. */
export const UNIT_UP_TIMEOUT_MS = 60_000;
/** A unit systemd had to start again this often since our restart keeps failing: no need to wait for the timeout. */
const FAILING_RESTARTS = 2;
const POLL_MS = 250;
const SYSTEMCTL_TIMEOUT_MS = 60_000;

/** `systemctl show`'s `Key=value` lines. */
export function unitProperties(text: string): Map<string, string> {
  return new Map(
    text
      .split('\n')
      .filter((line) => line.includes('='))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}

/**
 * The value of `systemctl show --property=Environment`: the unit's `NAME=value` assignments, separated by blanks, an
 * assignment with blanks in it quoted. Read word by word, as systemd writes them.
 */
export function unitEnvironment(value: string): Map<string, string> {
  const words: string[] = [];
  let word = '';
  let quote: string | undefined;
  let started = false;
  for (let i = 0; i < value.length; i++) {
    const char = value[i] ?? '';
    if (quote) {
      if (char === quote) quote = undefined;
      else if (char === '\\' && quote === '"' && i + 1 < value.length) word += value[++i];
      else word += char;
    } else if (char === '"' || char === "'") {
      quote = char;
      started = true;
    } else if (char === ' ' || char === '\t' || char === '\n') {
      if (started) words.push(word);
      word = '';
      started = false;
    } else {
      word += char;
      started = true;
    }
  }
  if (started) words.push(word);
  return new Map(
    words
      .filter((entry) => entry.includes('='))
      .map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]),
  );
}

/** The unit's own `Environment=` variables (not the caller's): what its ExecStart's `${NAME}` stand for. */
export async function unitVariables(systemctl: UserSystemctl, unit: string): Promise<Map<string, string>> {
  const { stdout } = await systemctl(['show', unit, '--property=Environment'], { timeoutMs: SYSTEMCTL_TIMEOUT_MS });
  return unitEnvironment(unitProperties(stdout).get('Environment') ?? '');
}

export async function unitState(systemctl: UserSystemctl, unit: string): Promise<UnitState> {
  const { stdout } = await systemctl(['show', unit, '--property=LoadState,ActiveState,SubState,MainPID,NRestarts'], {
    timeoutMs: SYSTEMCTL_TIMEOUT_MS,
  });
  const shown = unitProperties(stdout);
  return {
    load: shown.get('LoadState') ?? 'unknown',
    active: shown.get('ActiveState') ?? 'unknown',
    sub: shown.get('SubState') ?? 'unknown',
    mainPid: Number(shown.get('MainPID') ?? 0) || 0,
    restarts: Number(shown.get('NRestarts') ?? 0) || 0,
  };
}

export const describeUnit = (unit: string, state: UnitState) =>
  `${unit} ${state.active} (${state.sub})${state.mainPid ? `, pid ${state.mainPid}` : ''}` +
  (state.restarts ? `, restarted ${state.restarts} time${state.restarts === 1 ? '' : 's'} by systemd` : '');

/**
 * Restarts the unit and waits until it is up, which is the first of:
 * - `listenAddress` given: its main process runs and a connection to that address is accepted (the daemon has
 *   started and serves: the event its clients wait for, at once, instead of a fixed wait);
 * - it runs one main process for `steadyMs` (a unit with Restart=always that keeps failing is `active (running)`
 *   between its tries: only a steady process counts).
 * Returns its state then, with `listening` when it answered there; a unit that failed, that systemd restarted twice
 * since, or that is not up within `timeoutMs` throws DaemonNotRunning with its last lines.
 */
export async function restartUnit(
  systemctl: UserSystemctl,
  unit: string,
  {
    steadyMs = UNIT_STEADY_MS,
    timeoutMs = UNIT_UP_TIMEOUT_MS,
    listenAddress,
  }: { steadyMs?: number; timeoutMs?: number; listenAddress?: string } = {},
): Promise<UnitState & { listening?: string }> {
  await systemctl(['restart', unit], { timeoutMs: SYSTEMCTL_TIMEOUT_MS });
  const deadline = Date.now() + timeoutMs;
  let steady: { pid: number; restarts: number; since: number } | undefined;
  for (;;) {
    const state = await unitState(systemctl, unit);
    const running = state.active === 'active' && state.sub === 'running' && state.mainPid > 0;
    if (running && listenAddress && (await answers(listenAddress))) {
      // The same main process as before the connection: what answered is the restarted daemon.
      const after = await unitState(systemctl, unit);
      if (after.mainPid === state.mainPid && after.restarts === state.restarts)
        return { ...after, listening: listenAddress };
    }
    if (!running) steady = undefined;
    else if (steady?.pid !== state.mainPid || steady.restarts !== state.restarts) {
      steady = { pid: state.mainPid, restarts: state.restarts, since: Date.now() };
    } else if (Date.now() - steady.since >= steadyMs) {
      return state;
    }
    const failing = state.active === 'failed' || state.restarts >= FAILING_RESTARTS;
    if (failing || Date.now() > deadline) {
      const why = failing
        ? 'keeps failing since its restart'
        : `not steadily running ${timeoutMs / 1000} s after its restart`;
      throw new DaemonNotRunning(
        `${describeUnit(unit, state)}: ${why}; its last lines: ${await lastLines(systemctl, unit)}`,
      );
    }
    await pause(POLL_MS, `waiting for ${unit}: ${describeUnit(unit, state)}`);
  }
}

const answers = (address: string) =>
  tcpProbe(address, LISTEN_PROBE_MS).then(
    () => true,
    () => false,
  );

/** The unit's last log lines, as `systemctl status` shows them (it exits 3 for a unit that is not active). */
async function lastLines(systemctl: UserSystemctl, unit: string): Promise<string> {
  const text = await systemctl(['status', unit, '--no-pager', '--full', '--lines=5'], {
    timeoutMs: SYSTEMCTL_TIMEOUT_MS,
  }).then(
    (result) => result.stdout,
    (error: unknown) => (error instanceof CommandFailed ? error.outputTail : String(error)),
  );
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  return lines.slice(-5).join(' | ') || '(none)';
}

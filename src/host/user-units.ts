/**
 * The platform user's systemd units (`systemctl --user`): the FUSE daemon is one (docs/host-cli.md). Read with
 * `systemctl --user show`, whose `Key=value` lines are the interface systemd keeps stable for scripts.
 */
import { CommandFailed, DaemonNotRunning } from '../core/errors';
import type { CommandOptions, CommandResult } from './command';
import { pause } from './heartbeat';

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

/** How long a restarted unit must keep one main process to count as up: longer than the real unit's RestartSec (3 s). */
export const UNIT_STEADY_MS = 5_000;
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
 * Restarts the unit and waits until it runs one main process for UNIT_STEADY_MS (a unit with Restart=always that keeps
 * failing is `active (running)` between its tries: only a steady process counts). Returns its state then; a unit that
 * failed, that systemd restarted twice since, or that is not up within `timeoutMs` throws DaemonNotRunning with its
 * last lines.
 */
export async function restartUnit(
  systemctl: UserSystemctl,
  unit: string,
  { steadyMs = UNIT_STEADY_MS, timeoutMs = UNIT_UP_TIMEOUT_MS } = {},
): Promise<UnitState> {
  await systemctl(['restart', unit], { timeoutMs: SYSTEMCTL_TIMEOUT_MS });
  const deadline = Date.now() + timeoutMs;
  let steady: { pid: number; restarts: number; since: number } | undefined;
  for (;;) {
    const state = await unitState(systemctl, unit);
    const running = state.active === 'active' && state.sub === 'running' && state.mainPid > 0;
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

import { execa } from 'execa';
import fs from 'node:fs/promises';
import path from 'node:path';
import { REPO_ROOT } from './repo';
import { waitFor } from './platform';

const SANDBOX = path.join(REPO_ROOT, 'sandbox', 'sandbox.sh');

type FaultAction = 'fail' | 'hang' | 'pause' | `stop-after:${string}`;

/** One rule of the sandbox's fault shim (sandbox/faults/shim.sh): an action and a glob on the command. */
export interface Fault {
  action: FaultAction | `once:${FaultAction}`;
  /** Matched against `<program> <arguments…> AEGIS_IMAGE_TAG=<tag in .env>`. */
  command: string;
}

export function faultLine(fault: Fault): string {
  return `${fault.action} ${fault.command}`;
}

/**
 * The fault knobs of the sandbox a worker runs against: `env` is the sandbox's (`AEGIS_SANDBOX_FAULTS`,
 * `AEGIS_SANDBOX_BIN`). A worker sees the rules only with `workerPath()` as its PATH.
 */
export function sandboxFaults(env: Record<string, string>) {
  const rules = env.AEGIS_SANDBOX_FAULTS ?? '';
  if (!rules || !env.AEGIS_SANDBOX_BIN) throw new Error('`sandbox.sh env` names no fault rules: sandbox too old?');
  const knob = (...args: string[]) => execa('bash', [SANDBOX, 'fault', ...args]);
  return {
    workerPath: () => `${env.AEGIS_SANDBOX_BIN}:${process.env.PATH ?? ''}`,
    async add(fault: Fault): Promise<void> {
      await fs.appendFile(rules, `${faultLine(fault)}\n`);
    },
    async remove(fault: Fault): Promise<void> {
      const text = await fs.readFile(rules, 'utf8').catch(() => '');
      await fs.writeFile(
        rules,
        text
          .split('\n')
          .filter((line) => line && line !== faultLine(fault))
          .join('\n'),
      );
    },
    /**
     * Resolves with the command a `pause` rule holds, once the `count`th command reached one (the file keeps those
     * held before, by workers since killed).
     */
    async paused(timeoutMs = 5 * 60_000, count = 1): Promise<string> {
      let held: string[] = [];
      await waitFor(async () => {
        held = (await fs.readFile(`${rules}.paused`, 'utf8').catch(() => '')).split('\n').filter(Boolean);
        return held.length >= count;
      }, timeoutMs);
      return held[count - 1] ?? '';
    },
    clear: () => knob('clear'),
    /** `sandbox.sh fault <command>`: `registry-down`, `registry-up`, `database-down`, `database-up`, … */
    knob: (command: 'registry-down' | 'registry-up' | 'database-down' | 'database-up') => knob(command),
    /** `.env` that cannot be replaced (chattr +i): every write of the tag fails; reading it works. */
    envReadOnly: (root: string, on: boolean) => execa('chattr', [on ? '+i' : '-i', path.join(root, '.env')]),
  };
}

export type SandboxFaults = ReturnType<typeof sandboxFaults>;

import { blocking, firstLine, type DoctorCheck } from '../../core/doctor';
import type { RunCommand } from '../command';
import type { Deployment } from '../deployment';

/** What the live checks reach the host with: the deployment as the worker reaches it, and any other program. */
export interface LiveContext {
  deployment: Deployment;
  /** Runs a program that is neither make nor podman (`bin/aegis`, `systemctl --user`). */
  run: RunCommand;
  /** The pods of the deployment's profile. */
  pods: readonly string[];
}

/** How long one command of a check may take: doctor looks, it waits for nothing. */
export const LOOK_TIMEOUT_MS = 30_000;

/**
 * A check that could not run is a check that did not pass: blocked, with what stopped it and the fix; a warning where
 * what it looks at never blocks an upgrade (the host binary).
 */
export async function guarded(
  name: string,
  fix: string,
  check: () => Promise<DoctorCheck>,
  failing: typeof blocking = blocking,
): Promise<DoctorCheck> {
  try {
    return await check();
  } catch (error) {
    const { code, path } = error as NodeJS.ErrnoException;
    return failing(name, code === 'ENOENT' && path ? `cannot look: ${path} is missing` : firstLine(error), fix);
  }
}

/** Who runs the CLI, as approvals and aborts record it. */
import os from 'node:os';

/** Who an approval or an abort is by when `--by` is not given: `user@host`. */
export function identity(): string {
  let user: string;
  try {
    user = os.userInfo().username;
  } catch {
    // No passwd entry for the uid (a container): the variable is all there is.
    user = process.env.USER ?? process.env.LOGNAME ?? 'unknown';
  }
  return `${user}@${os.hostname()}`;
}

/** Who runs the CLI, as approvals, aborts, unlocks and the server's history record it. */
import os from 'node:os';

/** `user@host`: who an approval or an abort is by unless `--by` says, who cleared a lock, the client's identity. */
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

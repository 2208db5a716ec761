import fs from 'node:fs/promises';
import path from 'node:path';
import { UPGRADE_LOCK_FILE } from '../platform';
import { UpgradeLocked } from './errors';

/** What the lock file says: which upgrade holds it, since when. */
interface LockContent {
  owner: string;
  since: string;
}

export function lockPath(root: string): string {
  return path.join(root, UPGRADE_LOCK_FILE);
}

/** Takes the lock for `owner` (an upgrade's workflow ID); taking it again as the same owner is a no-op. */
export async function acquireLock(root: string, owner: string): Promise<void> {
  const content: LockContent = { owner, since: new Date().toISOString() };
  try {
    await fs.writeFile(lockPath(root), `${JSON.stringify(content)}\n`, { flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const holder = await readLock(root);
    if (holder?.owner === owner) return;
    throw new UpgradeLocked(
      `Deployment ${root} is locked by upgrade \`${holder?.owner ?? 'unknown'}\` since ${holder?.since ?? 'unknown'}; ` +
        `wait for it to end, or remove ${lockPath(root)} if it is gone for good`,
    );
  }
}

/** Releases the lock if `owner` holds it; never releases another upgrade's lock. */
export async function releaseLock(root: string, owner: string): Promise<void> {
  const holder = await readLock(root);
  if (holder?.owner === owner) await fs.rm(lockPath(root), { force: true });
}

async function readLock(root: string): Promise<LockContent | undefined> {
  try {
    return JSON.parse(await fs.readFile(lockPath(root), 'utf8')) as LockContent;
  } catch {
    return undefined;
  }
}

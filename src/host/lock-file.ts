import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { UPGRADE_LOCK_FILE, UPGRADE_LOCK_HISTORY_FILE } from '../core/platform';
import { environmentOf } from '../core/upgrade';
import {
  lockedMessage,
  summarizeContent,
  unreadableLockMessage,
  type LockClearance,
  type UpgradeLock,
  type UpgradeLockOwner,
  type UpgradeLockState,
} from '../core/upgrade-lock';
import { UpgradeLockChanged, UpgradeLocked } from '../core/errors';

export function lockPath(root: string): string {
  return path.join(root, UPGRADE_LOCK_FILE);
}

export function lockHistoryPath(root: string): string {
  return path.join(root, UPGRADE_LOCK_HISTORY_FILE);
}

export function isLockOwner(lock: UpgradeLockOwner, owner: UpgradeLockOwner): boolean {
  return lock.workflowId === owner.workflowId && lock.runId === owner.runId;
}

/**
 * Takes the lock for `lock`'s run; taking it again as the same run (a retried pre-flight) is a no-op. The file is
 * written whole under a temporary name, then linked to the lock's name: a crash never leaves an empty lock, and the
 * link fails when another run holds it.
 */
export async function acquireLock(root: string, lock: Omit<UpgradeLock, 'since'>): Promise<void> {
  const content: UpgradeLock = { ...lock, since: new Date().toISOString() };
  const draft = `${lockPath(root)}.${randomUUID()}.tmp`;
  try {
    await fs.writeFile(draft, `${JSON.stringify(content)}\n`, { flag: 'wx', mode: 0o600, flush: true });
    await fs.link(draft, lockPath(root));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    if ((await claimableLock(root, lock)) === 'ours') return;
    // Released between the link and the read: the next try takes it.
    throw new UpgradeLocked(`Deployment ${root} was locked a moment ago; try again`);
  } finally {
    await fs.rm(draft, { force: true });
  }
}

/**
 * Whether `owner` may take the lock: `free`, or `ours` (a retried pre-flight of the same run). Held by another run, or
 * naming no run, it is refused naming the holder and the way out: pre-flight asks first, so that a deployment left
 * locked by a terminated or failed upgrade is refused as such, before any other check.
 */
export async function claimableLock(root: string, owner: UpgradeLockOwner): Promise<'free' | 'ours'> {
  const found = await readLock(root);
  if (found.state === 'free') return 'free';
  if (found.state === 'held' && isLockOwner(found.lock, owner)) return 'ours';
  if (found.state === 'held') throw new UpgradeLocked(lockedMessage(root, found.lock));
  throw new UpgradeLocked(unreadableLockMessage(found.path, found.content, environmentOf(owner.workflowId)));
}

/** Releases the lock if `owner`'s run holds it; never another run's lock, nor a lock that names no owner. */
export async function releaseLock(root: string, owner: UpgradeLockOwner): Promise<void> {
  const found = await readLock(root);
  if (found.state === 'held' && isLockOwner(found.lock, owner)) await fs.rm(lockPath(root), { force: true });
}

/** The lock as the checkout has it; a file that is empty or not a lock is `unreadable`, with what it holds. */
export async function readLock(root: string): Promise<UpgradeLockState> {
  const file = lockPath(root);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { path: file, state: 'free' };
    return { path: file, state: 'unreadable', content: `it cannot be read: ${(error as Error).message}` };
  }
  const lock = parseLock(text);
  return lock
    ? { path: file, state: 'held', lock }
    : { path: file, state: 'unreadable', content: summarizeContent(text) };
}

function parseLock(text: string): UpgradeLock | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const fields = ['workflowId', 'runId', 'since', 'fromVersion', 'toVersion'] as const;
  const record = value as Partial<Record<(typeof fields)[number], unknown>> | null;
  if (typeof record !== 'object' || record === null) return undefined;
  if (!fields.every((field) => typeof record[field] === 'string' && record[field] !== '')) return undefined;
  return Object.fromEntries(fields.map((field) => [field, record[field]])) as unknown as UpgradeLock;
}

/**
 * Removes the lock if it is still `expected` (the state an unlock checked), after appending `clearance` to the
 * checkout's lock history (JSON lines, 0600): a crash between the two leaves the lock and a record, never a lock
 * cleared without one. Returns undefined when the lock is already free.
 */
export async function clearLock(
  root: string,
  expected: UpgradeLockState,
  clearance: Omit<LockClearance, 'previous'>,
): Promise<LockClearance | undefined> {
  const found = await readLock(root);
  if (found.state === 'free') return undefined;
  const same =
    found.state === 'held'
      ? expected.state === 'held' && isLockOwner(expected.lock, found.lock)
      : expected.state === 'unreadable' && expected.content === found.content;
  if (!same) {
    throw new UpgradeLockChanged(
      `The lock ${found.path} changed since it was checked (now ${found.state === 'held' ? `held by upgrade \`${found.lock.workflowId}\` (run ${found.lock.runId})` : found.content}): it was left as it is; run the unlock again`,
    );
  }
  const record: LockClearance = {
    ...clearance,
    previous: found.state === 'held' ? found.lock : { unreadable: found.content },
  };
  await fs.appendFile(lockHistoryPath(root), `${JSON.stringify(record)}\n`, { mode: 0o600 });
  await fs.rm(found.path, { force: true });
  return record;
}

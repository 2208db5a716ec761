/**
 * The deployment's upgrade lock as the workflows, the activities and the CLI see it: who holds it, how an operator
 * clears it (`unlockDeployment`), and the messages that name it. Pure: it is bundled into the workflow sandbox.
 */
import { environmentOf } from './upgrade';
import { quote } from './upgrade-request';

export const UNLOCK_WORKFLOW_TYPE = 'unlockDeployment';

/** The upgrade that holds the lock: one run of one workflow, not every run that reuses its workflow ID. */
export interface UpgradeLockOwner {
  workflowId: string;
  /** The run that took the lock, as recorded at its start (a reset of that run keeps it). */
  runId: string;
}

/** What the lock file holds: its owner, since when, and the upgrade it is doing. */
export interface UpgradeLock extends UpgradeLockOwner {
  since: string;
  fromVersion: string;
  toVersion: string;
}

/** The lock as found in the deploy checkout: free, held, or a file that names no owner (it is reported, not guessed). */
export type UpgradeLockState =
  | { path: string; state: 'free' }
  | { path: string; state: 'held'; lock: UpgradeLock }
  | { path: string; state: 'unreadable'; content: string };

/** `unlockDeployment`'s input: who clears the lock, and why. */
export interface UnlockRequest {
  /** Who runs the unlock, e.g. `alice@ops-laptop` (the CLI sends its user and host). */
  clearedBy: string;
  reason?: string;
}

/** One line of the lock history: what was cleared, by whom, when, why. */
export interface LockClearance {
  clearedAt: string;
  clearedBy: string;
  reason?: string;
  /** The lock file's content as it was: the lock, or the unreadable text. */
  previous: UpgradeLock | { unreadable: string };
  /** How the owner's workflow ended, as Temporal says (`TERMINATED`, `FAILED`…), or `not found`. */
  ownerStatus?: string;
  /** The `unlockDeployment` workflow that cleared it. */
  unlockWorkflowId: string;
}

/** What `unlockDeployment` returns: the lock file, and what it cleared (nothing when the lock was free). */
export interface UnlockReport {
  path: string;
  cleared?: LockClearance;
  /** The database writers the dead upgrade had stopped and recorded, started again by the unlock. */
  writersStarted?: string[];
  /** Why starting them failed: the lock is cleared all the same, and they are to be started by hand. */
  writersNotStarted?: string;
}

/** `unlockDeployment` refused (the owner still runs, the request is bad): nothing was changed. */
export const UnlockFailureType = { UnlockRefused: 'UnlockRefused' } as const;

/** Unlock workflows are named after the environment and their start, so each is kept in the history. */
export function unlockWorkflowId(environment: string, now: Date): string {
  return `aegis-unlock-${environment}-${now.toISOString().replace(/\.\d+Z$/, 'Z')}`;
}

/** The break-glass command, as messages give it. */
export function unlockCommand(environment: string): string {
  return `aegis-upgrade unlock --env ${environment}`;
}

/** `upgrade aegis-upgrade-default (run 1f2e…, 1.2.0 → 1.3.0) since 2025-06-01T03:00:00.000Z` */
export function describeLock(lock: UpgradeLock): string {
  return `upgrade \`${lock.workflowId}\` (run ${lock.runId}, ${lock.fromVersion} → ${lock.toVersion}) since ${lock.since}`;
}

/** Why a new upgrade may not run while `lock` is held, and the way out. */
export function lockedMessage(root: string, lock: UpgradeLock): string {
  const environment = environmentOf(lock.workflowId);
  return (
    `Deployment ${root} is locked by ${describeLock(lock)}. It still runs, or it ended without releasing the lock ` +
    `(RollbackFailed or terminated), leaving the platform as it was then: see \`aegis-upgrade status --env ${environment}\`. ` +
    `Once that upgrade no longer runs and the platform is sound, clear the lock with \`${unlockCommand(environment)}\``
  );
}

/** Why a lock file that names no owner blocks upgrades, and the way out. */
export function unreadableLockMessage(lockFile: string, content: string, environment: string): string {
  return (
    `The upgrade lock ${lockFile} names no upgrade (${content}): ` +
    `if no upgrade of this deployment runs, clear it with \`${unlockCommand(environment)}\``
  );
}

/** A file's content for a message: `it is empty`, or its start, quoted. */
export function summarizeContent(content: string): string {
  return content.trim() === '' ? 'it is empty' : `it holds ${quote(content.trim())}`;
}

/** Who and why are recorded in a JSON line: bounded, printable. */
const CLEARED_BY_LIMIT = 200;
const REASON_LIMIT = 1_000;
const UNLOCK_FIELDS = ['clearedBy', 'reason'];

/** Checks `unlockDeployment`'s input; returns every problem, none when it is good. */
export function unlockRequestProblems(input: unknown): string[] {
  if (Object.prototype.toString.call(input) !== '[object Object]') {
    return ['Expected the unlock request to be an object like {"clearedBy":"alice@ops-laptop","reason":"…"}'];
  }
  const given = input as Record<string, unknown>;
  const problems = Object.keys(given)
    .filter((field) => !UNLOCK_FIELDS.includes(field))
    .map((field) => `Unknown field ${quote(field)}: expected only ${UNLOCK_FIELDS.join(', ')}`);
  const text = (field: string, limit: number, required: boolean) => {
    const value = given[field];
    if (value == null && !required) return;
    // eslint-disable-next-line no-control-regex
    if (typeof value !== 'string' || value.trim() === '' || value.length > limit || /[\u0000-\u001f]/.test(value)) {
      problems.push(`Expected \`${field}\` to be one line of text of at most ${limit} characters`);
    }
  };
  text('clearedBy', CLEARED_BY_LIMIT, true);
  text('reason', REASON_LIMIT, false);
  return problems;
}

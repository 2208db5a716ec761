import { ApplicationFailure, patched, proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { UpgradeActivities } from '../activities';
import { NON_RETRYABLE_ERRORS } from '../core/errors';
import { environmentOf } from '../core/upgrade';
import {
  UnlockFailureType,
  describeLock,
  unlockRequestProblems,
  type UnlockReport,
  type UnlockRequest,
} from '../core/upgrade-lock';
import { Patch } from './patches';
import { errorMessage } from './progress';

/** Reading, asking Temporal, removing a file: seconds each. */
const LOCK_CHECK: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 3, nonRetryableErrorTypes: [...NON_RETRYABLE_ERRORS] },
};

const { readUpgradeLock, lockHolderStatus, clearUpgradeLock, resumeRecordedWriters } =
  proxyActivities<UpgradeActivities>(LOCK_CHECK);

function refused(why: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: UnlockFailureType.UnlockRefused,
    message: `Unlock refused: ${why}; the lock was left as it is`,
    nonRetryable: true,
  });
}

/**
 * The break-glass: clears the deployment's upgrade lock that an upgrade left behind (it ended `RollbackFailed`, or was
 * terminated), on the worker of the deployment, and records who cleared it and why. Refused while the upgrade that
 * holds it still runs: that one is stopped with an abort, which rolls it back and releases the lock. Then starts again
 * the database writers that upgrade had stopped and recorded (for its final dump): a terminated run never did.
 */
export async function unlockDeployment(input: UnlockRequest): Promise<UnlockReport> {
  const problems = unlockRequestProblems(input);
  if (problems.length > 0) throw refused(problems.join('; '));
  const found = await readUpgradeLock();
  if (found.state === 'free') return { path: found.path };

  const holder = await lockHolderStatus({ lock: found.state === 'held' ? found.lock : undefined });
  if (holder.running) {
    const { workflowId, runId, startedAt } = holder.running;
    const what = found.state === 'held' ? `the lock is held by ${describeLock(found.lock)}, and` : 'an upgrade';
    throw refused(
      `${what} \`${workflowId}\` (run ${runId}, started ${startedAt}) still runs. Stop it with ` +
        `\`aegis-upgrade abort --env ${environmentOf(workflowId)}\` (it rolls back and releases the lock), or wait for it to end`,
    );
  }
  const { clearedBy, reason } = input;
  let report: UnlockReport;
  try {
    const cleared = await clearUpgradeLock({ expected: found, clearedBy, reason, ownerStatus: holder.ownerStatus });
    report = { path: found.path, cleared };
  } catch (error) {
    throw refused(errorMessage(error));
  }
  if (!patched(Patch.unlockResumesWriters)) return report;
  try {
    return { ...report, writersStarted: await resumeRecordedWriters() };
  } catch (error) {
    return { ...report, writersNotStarted: errorMessage(error) };
  }
}

import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/common';
import { ENVIRONMENT_UPGRADE_TYPES } from '../core/components';
import type { LockClearance, UpgradeLock, UpgradeLockOwner, UpgradeLockState } from '../core/upgrade-lock';
import { clearLock, readLock, releaseLock } from '../host/lock-file';

/** An upgrade that still runs and may hold the lock: an unlock must wait for it. */
export interface RunningUpgrade {
  workflowId: string;
  runId: string;
  startedAt: string;
}

export interface LockHolderStatus {
  running?: RunningUpgrade;
  /** How the owner's run ended, as Temporal says (`TERMINATED`, `FAILED`…), or `not found`. */
  ownerStatus?: string;
}

export interface ClearLockInput {
  /** The lock as the unlock saw it when it checked its owner: any other lock is left alone. */
  expected: UpgradeLockState;
  clearedBy: string;
  reason?: string;
  ownerStatus?: string;
}

/** The lock's activities for the upgrade (release) and for `unlockDeployment` (read, check its owner, clear). */
export function createLockActivities(root: string) {
  return {
    async releaseUpgradeLock({ owner }: { owner: UpgradeLockOwner }): Promise<void> {
      await releaseLock(root, owner);
    },

    async readUpgradeLock(): Promise<UpgradeLockState> {
      return readLock(root);
    },

    /**
     * Asks Temporal whether the lock's owner still runs: any run of its workflow ID (a reset of it, too). A lock that
     * names no owner may belong to any upgrade of this deployment: then any upgrade running on this task queue counts.
     */
    async lockHolderStatus({ lock }: { lock?: UpgradeLock }): Promise<LockHolderStatus> {
      const { client, info } = Context.current();
      if (!lock) {
        const types = ENVIRONMENT_UPGRADE_TYPES.map((type) => `WorkflowType = '${type}'`).join(' OR ');
        const query = `(${types}) AND ExecutionStatus = 'Running' AND TaskQueue = '${info.taskQueue}'`;
        for await (const run of client.workflow.list({ query })) {
          return { running: { workflowId: run.workflowId, runId: run.runId, startedAt: run.startTime.toISOString() } };
        }
        return {};
      }
      const describe = (runId?: string) =>
        client.workflow
          .getHandle(lock.workflowId, runId)
          .describe()
          .catch((error: unknown) => {
            if (error instanceof WorkflowNotFoundError) return undefined;
            throw error;
          });
      const [owner, latest] = await Promise.all([describe(lock.runId), describe()]);
      const ownerStatus = owner?.status.name ?? 'not found';
      if (latest?.status.name !== 'RUNNING') return { ownerStatus };
      return {
        ownerStatus,
        running: { workflowId: latest.workflowId, runId: latest.runId, startedAt: latest.startTime.toISOString() },
      };
    },

    /** Clears the lock if it is still the one checked, recording who cleared it; undefined when it was free. */
    async clearUpgradeLock({ expected, ...clearance }: ClearLockInput): Promise<LockClearance | undefined> {
      const { workflowExecution, activityId } = Context.current().info;
      const unlockWorkflowId = workflowExecution?.workflowId ?? `activity ${activityId}`;
      return clearLock(root, expected, { ...clearance, clearedAt: new Date().toISOString(), unlockWorkflowId });
    },
  };
}

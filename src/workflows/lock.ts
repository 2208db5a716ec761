import { workflowInfo } from '@temporalio/workflow';
import type { UpgradeLockOwner } from '../core/upgrade-lock';

/**
 * This upgrade as the owner of the deployment's lock: its workflow ID and the run that started it. A new upgrade
 * under the same workflow ID is another owner; a reset of this one keeps `originalExecutionRunId` (not `runId`), so it
 * still owns its lock and finds its rollback pin.
 */
export function upgradeLockOwner(): UpgradeLockOwner {
  const { workflowId, originalExecutionRunId } = workflowInfo();
  return { workflowId, runId: originalExecutionRunId };
}

import { WorkflowFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure, TimeoutFailure } from '@temporalio/common';
import { formatDuration } from '../core/format';
import {
  UNLOCK_WORKFLOW_TYPE,
  UnlockFailureType,
  unlockRequestProblems,
  unlockWorkflowId,
  type UnlockReport,
  type UnlockRequest,
} from '../core/upgrade-lock';
import { CommandFailed, UsageError } from './errors';
import { identity } from './identity';

/** The request as the lock history records it: this user on this host, and the operator's reason. */
export function unlockRequest(reason: string | undefined, clearedBy = identity()): UnlockRequest {
  const request: UnlockRequest = { clearedBy, ...(reason !== undefined && { reason }) };
  const problems = unlockRequestProblems(request);
  if (problems.length > 0) throw new UsageError(problems.join('; '));
  return request;
}

/**
 * Runs `unlockDeployment` on the deployment's worker (the lock is a file there, and this CLI may run elsewhere) and
 * waits for its verdict; a refusal (the owner still runs) is a UsageError, as a refused start is.
 */
export async function unlockDeployment(
  client: Client,
  taskQueue: string,
  env: string,
  request: UnlockRequest,
  timeoutMs: number,
): Promise<UnlockReport> {
  const handle = await client.workflow.start(UNLOCK_WORKFLOW_TYPE, {
    taskQueue,
    workflowId: unlockWorkflowId(env, new Date()),
    args: [request],
    staticSummary: `Clear the AEGIS upgrade lock of ${env}`,
    // Its verdict is waited for: an unlock no worker took does not stay open.
    workflowExecutionTimeout: timeoutMs,
  });
  try {
    return (await handle.result()) as UnlockReport;
  } catch (error) {
    const cause = error instanceof WorkflowFailedError ? error.cause : undefined;
    if (cause instanceof ApplicationFailure && cause.type === UnlockFailureType.UnlockRefused) {
      throw new UsageError(cause.message, { cause: error });
    }
    if (cause instanceof TimeoutFailure) {
      throw new CommandFailed(
        `${handle.workflowId} did not end within ${formatDuration(timeoutMs)} (--timeout): is the worker of ${env} running?`,
        { cause: error },
      );
    }
    throw error;
  }
}

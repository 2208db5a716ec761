import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { environmentOfWorkflowId, taskQueueFor } from '../core/environments';
import { UPGRADE_WORKFLOW_TYPE, upgradeWorkflowId } from '../core/upgrade';
import { executionOf, type UpgradeExecution } from './upgrades';
import { workerPolling } from './workers';

/** What `aegis-upgrade environments` says of each environment it knows of. */
export interface EnvironmentSummary {
  name: string;
  /** The version its last completed upgrade went to (unknown when none completed). */
  version?: string;
  /** Its newest upgrade: how it ended (or `running`), and when it started; the shape `history` prints. */
  lastUpgrade: UpgradeExecution;
  taskQueue: string;
  /** A worker polled the environment's task queue within WORKER_SEEN_WITHIN_MS. */
  workerPolling: boolean;
}

/** How far back the list looks: the newest upgrades of the namespace. */
const SCAN_LIMIT = 1_000;

/**
 * The environments with an upgrade in the namespace's visibility (by hand or by schedule), newest first by their last
 * upgrade, each with its version and whether its worker polls. `defaultQueue` is `AEGIS_TASK_QUEUE`.
 */
export async function knownEnvironments(client: Client, defaultQueue: string): Promise<EnvironmentSummary[]> {
  const runs: WorkflowExecutionInfo[] = [];
  const query = `WorkflowType = '${UPGRADE_WORKFLOW_TYPE}' AND WorkflowId STARTS_WITH '${upgradeWorkflowId('')}'`;
  for await (const run of client.workflow.list({ query })) {
    runs.push(run);
    if (runs.length >= SCAN_LIMIT) break;
  }
  runs.sort((a, b) => b.startTime.getTime() - a.startTime.getTime());

  const byName = new Map<string, Omit<EnvironmentSummary, 'workerPolling'>>();
  for (const run of runs) {
    const name = environmentOfWorkflowId(run.workflowId);
    if (name === undefined) continue;
    const execution = executionOf(run, name);
    if (!byName.has(name))
      byName.set(name, { name, lastUpgrade: execution, taskQueue: taskQueueFor(name, defaultQueue) });
    const summary = byName.get(name);
    if (summary && summary.version === undefined && execution.phase === 'completed') {
      summary.version = execution.toVersion;
    }
  }
  return Promise.all(
    [...byName.values()].map(async (summary) => ({
      ...summary,
      workerPolling: await workerPolling(client, summary.taskQueue),
    })),
  );
}

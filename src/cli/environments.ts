import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { optionalTsToMs } from '@temporalio/common/lib/time';
import { environmentOfWorkflowId, taskQueueFor } from '../core/environments';
import { UPGRADE_WORKFLOW_TYPE, upgradeWorkflowId, type UpgradeMemo } from '../core/upgrade';
import { outcomeOf } from './upgrades';

/** What `aegis-upgrade environments` says of each environment it knows of. */
export interface EnvironmentSummary {
  name: string;
  /** The version its last completed upgrade went to (unknown when none completed). */
  version?: string;
  /** Its newest upgrade: how it ended (or `running`), and when it started. */
  lastUpgrade: { workflowId: string; toVersion?: string; outcome: string; startedAt: string };
  taskQueue: string;
  /** A worker polled the environment's task queue within WORKER_SEEN_WITHIN_MS. */
  workerPolling: boolean;
}

/** How far back the list looks: the newest upgrades of the namespace. */
const SCAN_LIMIT = 1_000;

/**
 * A worker long-polls its queue (about a minute per poll), and the server lists a poller for a few minutes after its
 * last poll: one seen within two minutes is polling now.
 */
export const WORKER_SEEN_WITHIN_MS = 2 * 60_000;

/** A live worker's last poll is at most a minute old (the server ends a long poll after one): `fleet status`'s bound. */
export const WORKER_POLLED_WITHIN_MS = 60_000;

/** Numbers of the Temporal API's enums (`TaskQueueKind.NORMAL`, `TaskQueueType.WORKFLOW` and `.ACTIVITY`). */
const NORMAL_KIND = 1;
const TASK_QUEUE_TYPES = { workflow: 1, activity: 2 } as const;

/** Whether a worker polls `taskQueue` now: for workflow tasks and for activities, both needed to run an upgrade. */
export async function workerPolling(
  client: Client,
  taskQueue: string,
  now = Date.now(),
  within = WORKER_SEEN_WITHIN_MS,
): Promise<boolean> {
  const seen = await Promise.all(
    Object.values(TASK_QUEUE_TYPES).map(async (taskQueueType) => {
      const { pollers } = await client.workflowService.describeTaskQueue({
        namespace: client.options.namespace,
        taskQueue: { name: taskQueue, kind: NORMAL_KIND },
        taskQueueType,
      });
      return (pollers ?? []).some((poller) => now - (optionalTsToMs(poller.lastAccessTime) ?? 0) < within);
    }),
  );
  return seen.every(Boolean);
}

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
    const memo = (run.memo ?? {}) as Partial<UpgradeMemo>;
    const outcome = outcomeOf(run, memo.outcome);
    const known = byName.get(name);
    if (!known) {
      byName.set(name, {
        name,
        lastUpgrade: {
          workflowId: run.workflowId,
          toVersion: memo.toVersion,
          outcome,
          startedAt: run.startTime.toISOString(),
        },
        taskQueue: taskQueueFor(name, defaultQueue),
      });
    }
    const summary = byName.get(name);
    if (summary && summary.version === undefined && outcome === 'completed') summary.version = memo.toVersion;
  }
  return Promise.all(
    [...byName.values()].map(async (summary) => ({
      ...summary,
      workerPolling: await workerPolling(client, summary.taskQueue),
    })),
  );
}

/** Whether a worker polls a task queue, as the server saw it, and what the CLI says when none does. */
import type { Client } from '@temporalio/client';
import { optionalTsToMs } from '@temporalio/common/lib/time';
import { UsageError } from './errors';

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

/** Who polls a task queue, as the server saw it: a worker polls it now, or when one last did. */
export interface QueueWorker {
  taskQueue: string;
  /** A worker polled it for workflow tasks and for activities, both needed to run an upgrade, within the bound. */
  polling: boolean;
  /** The last poll the server remembers, of any kind (it forgets pollers a few minutes after their last poll). */
  lastSeen?: Date;
}

/** What a queue's worker polls for: an environment's, both; the fleets' runs workflows only. */
export type PollKind = keyof typeof TASK_QUEUE_TYPES;
const ENVIRONMENT_POLLS: readonly PollKind[] = ['workflow', 'activity'];

/** Who polls `taskQueue` for `kinds` (DescribeTaskQueue's pollers). */
export async function queueWorker(
  client: Client,
  taskQueue: string,
  now = Date.now(),
  within = WORKER_SEEN_WITHIN_MS,
  kinds = ENVIRONMENT_POLLS,
): Promise<QueueWorker> {
  const lastPolls = await Promise.all(
    kinds.map(async (kind) => {
      const taskQueueType = TASK_QUEUE_TYPES[kind];
      const { pollers } = await client.workflowService.describeTaskQueue({
        namespace: client.options.namespace,
        taskQueue: { name: taskQueue, kind: NORMAL_KIND },
        taskQueueType,
      });
      return Math.max(0, ...(pollers ?? []).map((poller) => optionalTsToMs(poller.lastAccessTime) ?? 0));
    }),
  );
  const last = Math.max(...lastPolls);
  return {
    taskQueue,
    polling: lastPolls.every((polled) => now - polled < within),
    ...(last > 0 && { lastSeen: new Date(last) }),
  };
}

/** Whether a worker polls `taskQueue` now: for workflow tasks and for activities. */
export async function workerPolling(
  client: Client,
  taskQueue: string,
  now = Date.now(),
  within = WORKER_SEEN_WITHIN_MS,
): Promise<boolean> {
  return (await queueWorker(client, taskQueue, now, within)).polling;
}

/** What the CLI says when no worker answers: "no worker polls `aegis-upgrades` since 2026-12-06T19:00:00.000Z". */
export function noWorkerLine({ taskQueue, lastSeen }: Pick<QueueWorker, 'taskQueue' | 'lastSeen'>): string {
  return `no worker polls \`${taskQueue}\`${lastSeen ? ` since ${lastSeen.toISOString()}` : ''}`;
}

/**
 * Refuses to send work to a queue no worker polls (exit 2, naming the queue): it would wait there without a word.
 * `--allow-no-worker` queues it all the same, for a worker that starts later.
 */
export async function requireWorker(
  client: Client,
  taskQueue: string,
  whose: string,
  kinds = ENVIRONMENT_POLLS,
): Promise<void> {
  const worker = await queueWorker(client, taskQueue, Date.now(), WORKER_SEEN_WITHIN_MS, kinds);
  if (worker.polling) return;
  throw new UsageError(
    `Refused: ${noWorkerLine(worker)}, the task queue of ${whose}: start its worker (\`aegis-upgrade worker\`), ` +
      'or pass --allow-no-worker to queue this for a worker that starts later',
  );
}

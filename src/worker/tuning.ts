import type { WorkerOptions } from '@temporalio/worker';
import { HEARTBEAT_INTERVAL_MS } from '../host/heartbeat';

/**
 * How much one worker runs at once, set for this workload rather than left to the SDK's defaults (hundreds).
 * A worker serves one deployment, and the deployment's lock lets one upgrade change it at a time: an upgrade runs at
 * most three activities at once (the pull beside the backup, a notification), and every other upgrade started
 * meanwhile is refused by its first activity. The bound keeps a flood of starts from running hundreds of `podman` and
 * `pg_dump` processes on the platform's host; workflow tasks are cheap (`npm run bench`: 100 upgrades at once on one
 * worker, stand-in activities) and the cache keeps the running upgrades in memory instead of replaying them.
 */
export const WORKER_TUNING = {
  maxConcurrentActivityTaskExecutions: 16,
  maxConcurrentLocalActivityExecutions: 16,
  maxConcurrentWorkflowTaskExecutions: 20,
  maxCachedWorkflows: 200,
  // Every heartbeat reaches the server as the worker sends it (the SDK would hold them back for up to 0.8 of the
  // heartbeat timeout): a worker that is alive stays far from the timeout (src/worker/heartbeats.ts).
  maxHeartbeatThrottleInterval: HEARTBEAT_INTERVAL_MS,
} as const satisfies Partial<WorkerOptions>;

import { ActivityCancellationType, patched, proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { UpgradeActivities } from '../activities';
import { COMPENSATION_NON_RETRYABLE_ERRORS, NON_RETRYABLE_ERRORS, NOTIFY_NON_RETRYABLE_ERRORS } from '../core/errors';
import { Patch } from './patches';

const nonRetryableErrorTypes = [...NON_RETRYABLE_ERRORS];

/**
 * How long an activity may go without a heartbeat before Temporal takes its worker for dead and retries it on another:
 * the worker heartbeats every running activity that sets it every 2 s (src/worker/heartbeats.ts), so only a dead or
 * cut-off worker misses five in a row.
 */
const DEAD_WORKER_NOTICED_AFTER = '10 seconds';

/** Quick edits and lookups: well under a second each, so a worker that died in one is replaced within 30 s. */
const QUICK: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 3, nonRetryableErrorTypes },
};
/**
 * Pre-flight asks the registry and the database: it may take a while, so it heartbeats. It takes the lock last: a
 * cancel waits for it to end, so releasing the lock comes after taking it.
 */
const PREFLIGHT: ActivityOptions = {
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: DEAD_WORKER_NOTICED_AFTER,
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { maximumAttempts: 3, nonRetryableErrorTypes },
};
/** Pulls and dumps: long, heartbeating, so a dead worker is noticed within seconds. */
const TRANSFER: ActivityOptions = {
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: DEAD_WORKER_NOTICED_AFTER,
  retry: { maximumAttempts: 3, nonRetryableErrorTypes },
};
/**
 * Dumps and restores that change the database or its writers (the final dump stops them; a restore swaps databases or
 * fills a new cluster): as long as transfers, but a cancellation waits for them to end, so the rollback never reads the
 * database before their change lands, nor shares their scratch database.
 */
const DATABASE_CHANGE: ActivityOptions = {
  ...TRANSFER,
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
};
/**
 * Redeploys and bounded waits. A redeploy is never abandoned half-way: a cancellation waits for it to end
 * before the rollback touches the same pod.
 */
const REDEPLOY: ActivityOptions = {
  startToCloseTimeout: '20 minutes',
  heartbeatTimeout: DEAD_WORKER_NOTICED_AFTER,
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { maximumAttempts: 3, nonRetryableErrorTypes },
};
/**
 * Compensations: idempotent, so retried with backoff on every error a retry can fix (a registry or database outage,
 * a dead worker), each for up to 6 hours: an outage during a night window outlasts minutes, and RollbackFailed should
 * reach the morning shift with the manual steps, not wait for ever. Retries are 5 minutes apart at most, so a fixed
 * outage is noticed soon; the heartbeat still notices a dead worker within seconds, and its replacement retries at once.
 */
const COMPENSATION: ActivityOptions = {
  scheduleToCloseTimeout: '6 hours',
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: DEAD_WORKER_NOTICED_AFTER,
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '5 minutes',
    nonRetryableErrorTypes: [...COMPENSATION_NON_RETRYABLE_ERRORS],
  },
};
/**
 * A webhook's delivery: three short attempts (each also cut at WEBHOOK_ATTEMPT_TIMEOUT_MS), all within a minute, so a
 * dead webhook costs an upgrade at most that, at its end (workflows/notifications.ts), and never its outcome.
 */
const NOTIFY: ActivityOptions = {
  startToCloseTimeout: '15 seconds',
  scheduleToCloseTimeout: '1 minute',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumAttempts: 3,
    nonRetryableErrorTypes: [...NOTIFY_NON_RETRYABLE_ERRORS],
  },
};

export const quick = proxyActivities<UpgradeActivities>(QUICK);
export const preflightCheck = proxyActivities<UpgradeActivities>(PREFLIGHT);
export const transfer = proxyActivities<UpgradeActivities>(TRANSFER);
export const redeploy = proxyActivities<UpgradeActivities>(REDEPLOY);
const databaseChangeActivities = proxyActivities<UpgradeActivities>(DATABASE_CHANGE);
/** The database-changing activities; upgrades started before the patch cancel them as transfers, as they did. */
export const databaseChange = () => (patched(Patch.waitForDatabaseChanges) ? databaseChangeActivities : transfer);
export const compensate = proxyActivities<UpgradeActivities>(COMPENSATION);
export const deliver = proxyActivities<UpgradeActivities>(NOTIFY);

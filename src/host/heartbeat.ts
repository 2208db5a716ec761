import { Context } from '@temporalio/activity';

/** How often a long activity tells Temporal it is alive; well under every heartbeat timeout. */
const HEARTBEAT_INTERVAL_MS = 3_000;

/** Heartbeats while `work` runs, so a dead worker is noticed and a cancellation reaches the activity. */
export async function heartbeatWhile<T>(work: Promise<T>, detail?: string): Promise<T> {
  const context = Context.current();
  context.heartbeat(detail);
  const timer = setInterval(() => context.heartbeat(detail), HEARTBEAT_INTERVAL_MS);
  try {
    return await work;
  } finally {
    clearInterval(timer);
  }
}

export function cancellationSignal(): AbortSignal {
  return Context.current().cancellationSignal;
}

/** Sleeps between polls, heartbeating; throws when the activity is cancelled. */
export async function pause(ms: number, detail?: string): Promise<void> {
  const context = Context.current();
  context.heartbeat(detail);
  await context.sleep(ms);
}

import { Context } from '@temporalio/activity';

/**
 * How often a running activity tells Temporal it is alive: well under every heartbeat timeout (the activity options'
 * DEAD_WORKER_NOTICED_AFTER), so a worker that is alive is never taken for dead, even with its 2 cores busy.
 */
export const HEARTBEAT_INTERVAL_MS = 2_000;

/** What each running activity said it is doing last: every heartbeat repeats it (Temporal keeps the last one). */
const details = new WeakMap<Context, string | undefined>();

/** What the running activity said last, repeated by every heartbeat the worker sends for it (src/worker/heartbeats.ts). */
export function lastDetail(context: Context): string | undefined {
  return details.get(context);
}

/** Says what the activity does now: in its heartbeats (shown by the Temporal UI with the pending activity). */
function say(context: Context, detail: string | undefined): void {
  details.set(context, detail);
  context.heartbeat(detail);
}

/** Runs `work`, saying `detail` in the activity's heartbeats meanwhile (the worker sends them, src/worker/heartbeats.ts). */
export async function heartbeatWhile<T>(work: Promise<T>, detail?: string): Promise<T> {
  const context = Context.current();
  const before = details.get(context);
  say(context, detail);
  try {
    return await work;
  } finally {
    details.set(context, before);
  }
}

export function cancellationSignal(): AbortSignal {
  return Context.current().cancellationSignal;
}

/** Sleeps between polls, saying why; throws when the activity is cancelled. */
export async function pause(ms: number, detail?: string): Promise<void> {
  const context = Context.current();
  say(context, detail);
  await context.sleep(ms);
}

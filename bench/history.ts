import { temporal } from '@temporalio/proto';

const { EventType } = temporal.api.enums.v1;
type History = temporal.api.history.v1.IHistory;
type Event = temporal.api.history.v1.IHistoryEvent;

/** One activity as the history records it: when it was asked for, when it ran. */
export interface ActivitySpan {
  name: string;
  scheduledAt: number;
  startedAt: number;
  endedAt: number;
  /**
   * From the event that let the workflow ask for it (the end of the activity before it, or the workflow's start) to
   * its start: workflow task, scheduling, dispatch to the worker. What our orchestration adds to this activity.
   */
  overheadMs: number;
}

export interface OrchestrationFigures {
  wallMs: number;
  /** Time during which at least one activity was running. */
  busyMs: number;
  /** Wall time minus busy time. */
  overheadMs: number;
  activities: ActivitySpan[];
  events: number;
  bytes: number;
}

function eventMs(event: Event): number {
  const time = event.eventTime;
  return Number(time?.seconds ?? 0) * 1000 + Math.floor((time?.nanos ?? 0) / 1e6);
}

/** Where the wall time of one workflow went, from its history alone. */
export function orchestrationFigures(history: History): OrchestrationFigures {
  const events = history.events ?? [];
  const first = events[0];
  const last = events[events.length - 1];
  if (!first || !last) throw new Error('The workflow history is empty');
  const scheduled = new Map<string, { name: string; at: number; after: number }>();
  const started = new Map<string, number>();
  const activities: ActivitySpan[] = [];
  let lastActivityEnd = eventMs(first);
  for (const event of events) {
    const at = eventMs(event);
    switch (event.eventType) {
      case EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        scheduled.set(String(event.eventId), {
          name: event.activityTaskScheduledEventAttributes?.activityType?.name ?? '?',
          at,
          after: lastActivityEnd,
        });
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
        started.set(String(event.activityTaskStartedEventAttributes?.scheduledEventId), at);
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
      case EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
      case EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: {
        const attributes =
          event.activityTaskCompletedEventAttributes ??
          event.activityTaskFailedEventAttributes ??
          event.activityTaskTimedOutEventAttributes;
        const id = String(attributes?.scheduledEventId);
        const asked = scheduled.get(id);
        const startedAt = started.get(id);
        if (asked && startedAt !== undefined) {
          activities.push({
            name: asked.name,
            scheduledAt: asked.at,
            startedAt,
            endedAt: at,
            overheadMs: startedAt - asked.after,
          });
        }
        lastActivityEnd = at;
        break;
      }
    }
  }
  const wallMs = eventMs(last) - eventMs(first);
  const busyMs = unionMs(activities.map((activity) => [activity.startedAt, activity.endedAt] as const));
  const bytes = temporal.api.history.v1.History.encode(history).finish().length;
  return { wallMs, busyMs, overheadMs: wallMs - busyMs, activities, events: events.length, bytes };
}

function unionMs(intervals: (readonly [number, number])[]): number {
  const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
  let total = 0;
  let end = -Infinity;
  for (const [from, to] of sorted) {
    if (to <= end) continue;
    total += to - Math.max(from, end);
    end = to;
  }
  return total;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return NaN;
  return sorted.length % 2
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

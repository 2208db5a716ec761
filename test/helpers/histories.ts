import type { WorkflowHandle, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
// The SDK's own protobuf messages (a dependency of @temporalio/client), for the recorded files' format.
import { temporal } from '@temporalio/proto';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import fs from 'node:fs/promises';
import path from 'node:path';
import { REPO_ROOT } from './repo';
import type { ScheduledCommand } from './scheduled-commands';

/**
 * Recorded histories of every workflow: the replay test (test/workflows/replay.test.ts) runs each against the current
 * workflow code, so a change to the commands, or to the inputs of the activities they schedule, fails `npm test`
 * (docs/versioning.md).
 */
/**
 * Stored as protobufjs writes a message as an object (longs, enums and bytes as strings), not as the CLI's proto3
 * JSON: the SDK's historyToJSON/historyFromJSON throw "type must be a Type" with this install's two protobufjs copies.
 */
const History = temporal.api.history.v1.History;

export const HISTORIES_DIR = path.join(REPO_ROOT, 'test', 'histories');

/** Set to `1` to (re)write the committed histories; normal runs leave them as they are. */
export const RECORD_VARIABLE = 'AEGIS_RECORD_HISTORIES';

export function recordingHistories(): boolean {
  return process.env[RECORD_VARIABLE] === '1';
}

/** Writes the upgrade's history as `test/histories/<name>.json`, only when AEGIS_RECORD_HISTORIES=1. */
export async function recordHistory(handle: WorkflowHandle, name: string): Promise<void> {
  if (!recordingHistories()) return;
  await writeHistory(name, await handle.fetchHistory());
}

/**
 * Writes every run of a workflow that continued as new (a fleet: one run a wave), the first as `<name>-run-1.json`:
 * an upgrade of the worker may find it in any of them. Only when AEGIS_RECORD_HISTORIES=1.
 */
export async function recordEveryRun(handle: WorkflowHandleWithFirstExecutionRunId, name: string): Promise<void> {
  if (!recordingHistories()) return;
  let runId: string | undefined = handle.firstExecutionRunId;
  for (let run = 1; runId; run++) {
    const history = await handle.client.getHandle(handle.workflowId, runId).fetchHistory();
    await writeHistory(`${name}-run-${run}`, history);
    runId = history.events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
}

async function writeHistory(name: string, history: temporal.api.history.v1.IHistory): Promise<void> {
  if (!/^[a-z0-9][a-z0-9.-]*$/.test(name)) throw new Error(`History name \`${name}\` must be like rolled-back-1.3.1`);
  await fs.mkdir(HISTORIES_DIR, { recursive: true });
  const json = History.toObject(History.fromObject(history), { longs: String, enums: String, bytes: String });
  await fs.writeFile(path.join(HISTORIES_DIR, `${name}.json`), `${JSON.stringify(json, null, 1)}\n`);
}

export interface RecordedHistory {
  name: string;
  history: temporal.api.history.v1.History;
}

/**
 * Every committed history, by name: those of the current code at the top, and those recorded on earlier commits in a
 * directory named after the commit (`0b4679a/completed`), kept while upgrades started on that code may still run.
 */
export async function readHistories(): Promise<RecordedHistory[]> {
  const entries = await fs.readdir(HISTORIES_DIR, { recursive: true });
  const files = entries.filter((file) => file.endsWith('.json')).sort();
  return Promise.all(
    files.map(async (file) => ({
      name: file
        .replace(/\.json$/, '')
        .split(path.sep)
        .join('/'),
      history: History.fromObject(JSON.parse(await fs.readFile(path.join(HISTORIES_DIR, file), 'utf8')) as object),
    })),
  );
}

/** The ID the workflow ran under: replayed under another, it would derive another environment and lock owner. */
export function workflowIdOf(history: temporal.api.history.v1.IHistory): string {
  const id = history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowId;
  if (!id) throw new Error('The history does not start with its workflow ID: record it again with recordHistory');
  return id;
}

/** The activities, child upgrades and continue-as-new the history recorded, in order, each with its input and task. */
export function scheduledCommands(history: temporal.api.history.v1.IHistory): ScheduledCommand[] {
  const events = history.events ?? [];
  const taskStarts = new Map(
    events.flatMap((event) => {
      const completed = event.workflowTaskCompletedEventAttributes;
      return completed ? [[Number(event.eventId), Number(completed.startedEventId)] as const] : [];
    }),
  );
  const task = (completedId: Long | number | null | undefined) => taskStarts.get(Number(completedId)) ?? 0;
  return events.flatMap((event): ScheduledCommand[] => {
    const activity = event.activityTaskScheduledEventAttributes;
    if (activity) {
      const { activityType, input, workflowTaskCompletedEventId } = activity;
      const type = `${activityType?.name}`;
      return [{ command: 'activity', type, input: decoded(input), task: task(workflowTaskCompletedEventId) }];
    }
    const child = event.startChildWorkflowExecutionInitiatedEventAttributes;
    if (child) {
      const { workflowType, workflowId, input, workflowTaskCompletedEventId } = child;
      const type = `${workflowType?.name}`;
      return [
        {
          command: 'child',
          type,
          workflowId: `${workflowId}`,
          input: decoded(input),
          task: task(workflowTaskCompletedEventId),
        },
      ];
    }
    const continued = event.workflowExecutionContinuedAsNewEventAttributes;
    if (continued) {
      const { workflowType, input, workflowTaskCompletedEventId } = continued;
      const type = `${workflowType?.name}`;
      return [{ command: 'continue-as-new', type, input: decoded(input), task: task(workflowTaskCompletedEventId) }];
    }
    return [];
  });
}

function decoded(payloads: temporal.api.common.v1.IPayloads | null | undefined): unknown[] {
  return (payloads?.payloads ?? []).map((payload) => defaultPayloadConverter.fromPayload(payload as Payload));
}

/** One activity of a history: what was scheduled, the attempt that ended it, and what it returned. */
export interface ActivityRun {
  activity: string;
  input: unknown[];
  /** 1 unless a worker died in it, or it failed and was retried. */
  attempt: number;
  result?: unknown;
}

export function activityRuns(history: temporal.api.history.v1.IHistory): ActivityRun[] {
  const runs = new Map<number, ActivityRun>();
  for (const event of history.events ?? []) {
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduled) {
      runs.set(Number(event.eventId), {
        activity: `${scheduled.activityType?.name}`,
        input: decoded(scheduled.input),
        attempt: 0,
      });
    }
    const started = event.activityTaskStartedEventAttributes;
    const startedRun = started && runs.get(Number(started.scheduledEventId));
    if (startedRun) startedRun.attempt = started.attempt ?? 0;
    const completed = event.activityTaskCompletedEventAttributes;
    const completedRun = completed && runs.get(Number(completed.scheduledEventId));
    if (completedRun) completedRun.result = decoded(completed.result)[0];
  }
  return [...runs.values()];
}

/** Activities scheduled twice with the same input: a completed step ran again (a retry is the same scheduling). */
export function activitiesScheduledTwice(runs: ActivityRun[]): string[] {
  const seen = new Set<string>();
  const twice: string[] = [];
  for (const { activity, input } of runs) {
    const key = `${activity}(${JSON.stringify(input)})`;
    if (seen.has(key)) twice.push(key);
    seen.add(key);
  }
  return twice;
}

/**
 * Resolves once the workflow has handled its cancellation (a workflow task completed after the cancel request) with
 * the activities it scheduled since the request. From then on, a workflow that waits for an activity runs no code
 * until that activity ends (heartbeats make no workflow task): what it scheduled by now is all it schedules meanwhile.
 */
export async function cancellationHandled(handle: WorkflowHandle, timeoutMs = 60_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (let interval = 50; ; interval = Math.min(interval * 2, 500)) {
    const events = (await handle.fetchHistory()).events ?? [];
    const requested = events.findIndex((event) => event.workflowExecutionCancelRequestedEventAttributes);
    const since = requested >= 0 ? events.slice(requested + 1) : [];
    if (since.some((event) => event.workflowTaskCompletedEventAttributes)) {
      return since.flatMap((event) => event.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
    }
    if (Date.now() > deadline)
      throw new Error(`${handle.workflowId} did not handle its cancellation in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

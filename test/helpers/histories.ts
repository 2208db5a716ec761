import type { WorkflowHandle } from '@temporalio/client';
// The SDK's own protobuf messages (a dependency of @temporalio/client), for the recorded files' format.
import { temporal } from '@temporalio/proto';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import fs from 'node:fs/promises';
import path from 'node:path';
import { REPO_ROOT } from './repo';
import type { ScheduledCommand } from './scheduled-commands';

/**
 * Recorded upgrade histories: the replay test (test/workflows/replay.test.ts) runs every one against the current
 * workflow code, so a change to the command sequence without `patched()` fails `npm test` (docs/versioning.md).
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
  if (!/^[a-z0-9][a-z0-9.-]*$/.test(name)) throw new Error(`History name \`${name}\` must be like rolled-back-1.3.1`);
  const history = await handle.fetchHistory();
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

/** The activities, child upgrades and continue-as-new the history recorded, in order, each with its input. */
export function scheduledCommands(history: temporal.api.history.v1.IHistory): ScheduledCommand[] {
  return (history.events ?? []).flatMap((event): ScheduledCommand[] => {
    const activity = event.activityTaskScheduledEventAttributes;
    if (activity) {
      return [{ command: 'activity', type: `${activity.activityType?.name}`, input: decoded(activity.input) }];
    }
    const child = event.startChildWorkflowExecutionInitiatedEventAttributes;
    if (child) {
      const { workflowType, workflowId, input } = child;
      return [{ command: 'child', type: `${workflowType?.name}`, workflowId: `${workflowId}`, input: decoded(input) }];
    }
    const continued = event.workflowExecutionContinuedAsNewEventAttributes;
    if (continued) {
      return [{ command: 'continue-as-new', type: `${continued.workflowType?.name}`, input: decoded(continued.input) }];
    }
    return [];
  });
}

function decoded(payloads: temporal.api.common.v1.IPayloads | null | undefined): unknown[] {
  return (payloads?.payloads ?? []).map((payload) => defaultPayloadConverter.fromPayload(payload as Payload));
}

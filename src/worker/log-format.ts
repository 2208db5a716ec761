import { DefaultLogger, type LogEntry } from '@temporalio/worker';
import type { LogFormat, TelemetryConfig } from '../config/telemetry';

/** Never written: a task token lets whoever holds it complete the activity. */
const NEVER_LOGGED = new Set(['taskToken']);

/**
 * Left out of a text line, kept in JSON: the same on every line of one worker, or said by the message already (our
 * step and command lines spell out their fields for people and keep them as fields for a log pipeline).
 */
const ONLY_IN_JSON = new Set([
  'namespace',
  'taskQueue',
  'runId',
  'workflowRunId',
  'workflowType',
  'isLocal',
  'sdkComponent',
  'activityId',
  'command',
  'exitCode',
  'durationMs',
  'step',
  'status',
]);

/**
 * One event as one line: `<time> <LEVEL> <message> key=value…` for people, or one JSON object for a log pipeline.
 * Line breaks inside a message or value are escaped, so an event never spans lines.
 */
export function formatLogEntry({ level, message, timestampNanos, meta = {} }: LogEntry, format: LogFormat): string {
  const time = new Date(Number(timestampNanos / 1_000_000n)).toISOString();
  const fields = Object.entries(meta).filter(([key, value]) => !NEVER_LOGGED.has(key) && value !== undefined);
  if (format === 'json') {
    return JSON.stringify({
      time,
      level,
      message,
      ...Object.fromEntries(fields.map(([key, value]) => [key, toJson(value)])),
    });
  }
  const text = fields
    .filter(([key, value]) => !ONLY_IN_JSON.has(key) && !(key === 'attempt' && value === 1))
    .map(([key, value]) => `${key}=${textValue(value)}`);
  return [time, level.padEnd(5), oneLine(message), ...text].join(' ');
}

/** A logger for `Runtime.install`: the configured level and format, one line per event on `write` (stderr). */
export function createLogger(
  { logLevel, logFormat }: Pick<TelemetryConfig, 'logLevel' | 'logFormat'>,
  write: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): DefaultLogger {
  return new DefaultLogger(logLevel, (entry) => write(formatLogEntry(entry, logFormat)));
}

function toJson(value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  if (typeof value === 'bigint') return String(value);
  return value;
}

function textValue(value: unknown): string {
  const text =
    value instanceof Error
      ? value.message
      : typeof value === 'string'
        ? value
        : typeof value === 'object'
          ? JSON.stringify(value)
          : String(value);
  return /^[^\s"=]+$/.test(text) ? text : JSON.stringify(text);
}

function oneLine(text: string): string {
  return text.replace(/\r?\n/g, '\\n');
}

import { Context } from '@temporalio/activity';
import type { Logger } from '@temporalio/common';
import { formatDuration } from '../core/format';

/** How one command ended. */
export interface CommandEnding {
  exitCode?: number;
  durationMs: number;
  timedOut?: boolean;
  cancelled?: boolean;
}

/** One command's line in the worker's log; `command` is already redacted. */
export interface CommandLogLine {
  level: 'INFO' | 'WARN';
  message: string;
  meta: { command: string; exitCode?: number; durationMs: number };
}

export function commandLogLine(
  command: string,
  { exitCode, durationMs, timedOut, cancelled }: CommandEnding,
): CommandLogLine {
  const took = formatDuration(durationMs);
  const ending = timedOut
    ? `timed out after ${took}`
    : cancelled
      ? `was cancelled after ${took}`
      : `exited ${exitCode ?? '(no exit code)'} in ${took}`;
  return {
    level: exitCode === 0 && !timedOut && !cancelled ? 'INFO' : 'WARN',
    message: `command \`${command}\` ${ending}`,
    meta: { command, ...(exitCode !== undefined && { exitCode }), durationMs },
  };
}

/** The running activity's logger (its lines carry the workflow and activity IDs); none outside an activity. */
export function activityLogger(): Logger | undefined {
  try {
    return Context.current().log;
  } catch {
    return undefined;
  }
}

import { ScheduleOverlapPolicy, type CalendarSpec, type Client } from '@temporalio/client';
import { UPGRADE_WORKFLOW_TYPE, upgradeWorkflowId, type UpgradeMemo, type UpgradeRequest } from '../upgrade';
import { UsageError, checkedRequest } from './upgrades';

/** One maintenance window per environment: the schedule is named like the upgrades it starts. */
export function scheduleId(env: string): string {
  return upgradeWorkflowId(env);
}

const CALENDAR_FIELDS = ['second', 'minute', 'hour', 'dayOfMonth', 'month', 'year', 'dayOfWeek'] as const;

/** `dayOfWeek=SUNDAY,hour=3,minute=0` → a Temporal calendar spec. */
export function parseCalendar(text: string): CalendarSpec {
  const spec: Record<string, string | number> = {};
  for (const part of text.split(',')) {
    const [key, value] = part.split('=').map((piece) => piece.trim());
    if (!key || value === undefined || !(CALENDAR_FIELDS as readonly string[]).includes(key)) {
      throw new UsageError(
        `Expected --calendar to be like dayOfWeek=SUNDAY,hour=3 with fields ${CALENDAR_FIELDS.join(', ')}, got \`${text}\``,
      );
    }
    spec[key] = /^\d+$/.test(value) ? Number(value) : value.toUpperCase();
  }
  return spec as CalendarSpec;
}

export interface ScheduleOptions {
  env: string;
  cron?: string;
  calendar?: string;
  timezone?: string;
}

/**
 * A maintenance window: overlapping runs are skipped, and a failed (rolled back) upgrade pauses the schedule so it
 * does not retry into the same failure every night.
 */
export async function createSchedule(
  client: Client,
  taskQueue: string,
  request: UpgradeRequest,
  options: ScheduleOptions,
): Promise<string> {
  if (!options.cron === !options.calendar) throw new UsageError('Expected exactly one of --cron or --calendar');
  // Checked here too: a schedule runs unattended, so a bad request would fail every window, with nobody watching.
  const checked = checkedRequest(request);
  const id = scheduleId(options.env);
  await client.schedule.create({
    scheduleId: id,
    spec: {
      ...(options.cron ? { cronExpressions: [options.cron] } : { calendars: [parseCalendar(options.calendar ?? '')] }),
      timezone: options.timezone,
    },
    action: {
      type: 'startWorkflow',
      workflowType: UPGRADE_WORKFLOW_TYPE,
      taskQueue,
      workflowId: upgradeWorkflowId(options.env),
      args: [checked],
      memo: { environment: options.env, toVersion: checked.targetVersion } satisfies Partial<UpgradeMemo>,
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, pauseOnFailure: true },
    memo: { environment: options.env, toVersion: checked.targetVersion },
  });
  return id;
}

export async function listSchedules(client: Client): Promise<string[]> {
  const lines: string[] = [];
  for await (const schedule of client.schedule.list()) {
    if (!schedule.scheduleId.startsWith(upgradeWorkflowId(''))) continue;
    const next = schedule.info.nextActionTimes[0]?.toISOString() ?? 'none';
    const paused = schedule.state.paused ? `paused${schedule.state.note ? ` (${schedule.state.note})` : ''}` : 'active';
    lines.push(`${schedule.scheduleId}  ${paused}  next: ${next}`);
  }
  return lines;
}

export async function deleteSchedule(client: Client, env: string): Promise<void> {
  await client.schedule.getHandle(scheduleId(env)).delete();
}

/** Runs the window now, under the schedule's own overlap policy: a trigger while an upgrade runs is skipped. */
export async function triggerSchedule(client: Client, env: string): Promise<void> {
  const handle = client.schedule.getHandle(scheduleId(env));
  // The SDK's trigger allows overlaps unless told otherwise.
  await handle.trigger((await handle.describe()).policies.overlap);
}

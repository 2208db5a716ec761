import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type CalendarSpec,
  type Client,
  type ScheduleSpec,
} from '@temporalio/client';
import { UPGRADE_WORKFLOW_TYPE, upgradeWorkflowId, type UpgradeMemo, type UpgradeRequest } from '../core/upgrade';
import { startSearchAttributes } from '../core/search-attributes';
import { UsageError } from './errors';
import { checkedRequest } from './upgrades';
import { checkedEnvironment } from './visibility';

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

export interface WindowOptions {
  cron?: string;
  calendar?: string;
  timezone?: string;
}

/** When the window opens: a cron expression or a calendar, checked before anything is sent. */
export function windowSpec(options: WindowOptions): ScheduleSpec {
  if (!options.cron === !options.calendar) throw new UsageError('Expected exactly one of --cron or --calendar');
  return {
    ...(options.cron ? { cronExpressions: [options.cron] } : { calendars: [parseCalendar(options.calendar ?? '')] }),
    timezone: options.timezone,
  };
}

/**
 * What the server answers about the schedule the operator named, as the operator's mistake: one line and exit 2
 * (docs/cli.md), not a stack. Anything else is left as it is.
 */
function refused(error: unknown, env: string, spec?: ScheduleSpec): unknown {
  const id = scheduleId(env);
  if (error instanceof ScheduleAlreadyRunning) {
    return new UsageError(`Schedule ${id} exists already: \`aegis-upgrade schedule delete --env ${env}\` first`, {
      cause: error,
    });
  }
  if (error instanceof ScheduleNotFoundError) {
    return new UsageError(`No schedule ${id}: \`aegis-upgrade schedule list\` shows the schedules there are`, {
      cause: error,
    });
  }
  // How the SDK reports a spec the server refused (a cron expression or a time zone it cannot read).
  if (error instanceof TypeError)
    return new UsageError(`The server refused the window${spec ? ` ${windowText(spec)}` : ''}: ${error.message}`, {
      cause: error,
    });
  return error;
}

/** The window as the operator gave it: `(--cron '0 3 * * SUN', --timezone UTC)`. */
function windowText({ cronExpressions, calendars, timezone }: ScheduleSpec): string {
  const when = cronExpressions ? `--cron '${cronExpressions.join(' ')}'` : `--calendar ${JSON.stringify(calendars)}`;
  return `(${when}, --timezone ${timezone ?? 'UTC'})`;
}

/** `work`, its refusals said as `refused` says them. */
async function refusing<T>(env: string, work: Promise<T>, spec?: ScheduleSpec): Promise<T> {
  try {
    return await work;
  } catch (error) {
    throw refused(error, env, spec);
  }
}

/**
 * A maintenance window: overlapping runs are skipped, and a failed (rolled back) upgrade pauses the schedule so it
 * does not retry into the same failure every night.
 */
export async function createSchedule(
  client: Client,
  taskQueue: string,
  request: UpgradeRequest,
  env: string,
  spec: ScheduleSpec,
): Promise<string> {
  // Checked here too: a schedule runs unattended, so a bad request would fail every window, with nobody watching.
  const checked = checkedRequest(request);
  const id = scheduleId(checkedEnvironment(env));
  const created = client.schedule.create({
    scheduleId: id,
    spec,
    action: {
      type: 'startWorkflow',
      workflowType: UPGRADE_WORKFLOW_TYPE,
      taskQueue,
      workflowId: upgradeWorkflowId(env),
      args: [checked],
      memo: { environment: env, toVersion: checked.targetVersion } satisfies Partial<UpgradeMemo>,
      typedSearchAttributes: startSearchAttributes(env, checked.targetVersion),
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, pauseOnFailure: true },
    memo: { environment: env, toVersion: checked.targetVersion },
  });
  await refusing(env, created, spec);
  return id;
}

export interface ScheduleSummary {
  scheduleId: string;
  paused: boolean;
  /** Why it is paused, e.g. the failure that paused it. */
  note?: string;
  /** ISO time of the next run, if one is planned. */
  nextRun?: string;
}

export async function listSchedules(client: Client): Promise<ScheduleSummary[]> {
  const schedules: ScheduleSummary[] = [];
  for await (const schedule of client.schedule.list()) {
    if (!schedule.scheduleId.startsWith(upgradeWorkflowId(''))) continue;
    schedules.push({
      scheduleId: schedule.scheduleId,
      paused: schedule.state.paused,
      note: schedule.state.note || undefined,
      nextRun: schedule.info.nextActionTimes[0]?.toISOString(),
    });
  }
  return schedules;
}

export async function deleteSchedule(client: Client, env: string): Promise<void> {
  await refusing(env, client.schedule.getHandle(scheduleId(env)).delete());
}

/** Runs the window now, under the schedule's own overlap policy: a trigger while an upgrade runs is skipped. */
export async function triggerSchedule(client: Client, env: string): Promise<void> {
  const handle = client.schedule.getHandle(scheduleId(env));
  // The SDK's trigger allows overlaps unless told otherwise.
  await refusing(
    env,
    handle.describe().then(({ policies }) => handle.trigger(policies.overlap)),
  );
}

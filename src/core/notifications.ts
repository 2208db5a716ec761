/**
 * What a webhook is told about an upgrade: one JSON body per event, with a plain-text `text` that chat tools (Slack,
 * Mattermost, Rocket.Chat) show as is. The workflow builds it (so the history shows what was sent); the `notify`
 * activity posts it, in the format its webhook takes (`webhookPayload`). Nothing here is secret: versions, steps,
 * messages already cleaned of secrets, paths, commands.
 */
import { describeAction, type ApprovalRecord } from './operator-actions';
import { fromLabel, type PodName } from './platform';
import { environmentOf, type UpgradeCause, type UpgradeReport } from './upgrade';

export const UPGRADE_EVENTS = [
  'started',
  'waiting-for-approval',
  'completed',
  'rolled-back',
  'rollback-failed',
  'refused',
] as const;

export type UpgradeEvent = (typeof UPGRADE_EVENTS)[number];

export interface UpgradeNotification {
  event: UpgradeEvent;
  environment: string;
  workflowId: string;
  /** Unknown when pre-flight refused before reading it. */
  fromVersion?: string;
  toVersion: string;
  /** When it happened (ISO 8601). */
  at: string;
  /** Why the upgrade failed or was refused: the step and its message. */
  cause?: UpgradeCause;
  /** What the rollback put back, in order (rolled-back, rollback-failed). */
  rolledBack?: string[];
  /** What the rollback could not put back (rollback-failed), and the commands that finish it by hand. */
  notRolledBack?: string[];
  manualSteps?: string[];
  /** A rollback restored the databases: the dumps, and the writes that were discarded. */
  databaseRestore?: { dumps: string[]; discardedWrites: { from: string; to: string } };
  /** The backup's directory on the deploy host. */
  backup?: string;
  /** The gate the upgrade waits at (waiting-for-approval). */
  approval?: { pod: PodName; timeout: string; command: string };
  /** The gates released so far: by whom, why, when. */
  approvals?: ApprovalRecord[];
  /** The command that shows everything else. */
  command: string;
  text: string;
}

/** What the workflow knows when an event happens. */
export interface UpgradeEventFacts {
  event: UpgradeEvent;
  workflowId: string;
  at: string;
  report: UpgradeReport;
  /** The gate reached, with how long it waits (waiting-for-approval). */
  approval?: { pod: PodName; timeout: string };
}

export function upgradeNotification({
  event,
  workflowId,
  at,
  report,
  approval,
}: UpgradeEventFacts): UpgradeNotification {
  const environment = environmentOf(workflowId);
  const ended = event === 'rolled-back' || event === 'rollback-failed';
  const notification: Omit<UpgradeNotification, 'text'> = {
    event,
    environment,
    workflowId,
    ...(report.fromVersion !== undefined && { fromVersion: fromLabel(report) }),
    toVersion: report.toVersion,
    at,
    ...((ended || event === 'refused') && { cause: report.cause ?? failedStep(report) }),
    ...(ended && { rolledBack: rollbackSteps(report, true) }),
    ...(event === 'rollback-failed' && { notRolledBack: rollbackSteps(report, false) }),
    ...(event === 'rollback-failed' && report.manualSteps && { manualSteps: report.manualSteps }),
    ...(ended &&
      report.databaseRestore && {
        databaseRestore: {
          dumps: report.databaseRestore.dumps,
          discardedWrites: report.databaseRestore.discardedWrites,
        },
      }),
    ...(report.backup && { backup: report.backup.location }),
    ...(approval && {
      approval: { ...approval, command: `aegis-upgrade approve --env ${environment} --pod ${approval.pod}` },
    }),
    ...(report.approvals && report.approvals.length > 0 && { approvals: report.approvals }),
    command: `aegis-upgrade status --env ${environment}`,
  };
  return { ...notification, text: notificationText(notification) };
}

/** One paragraph a person reads on a phone: what happened, why, what was done about it, what to run next. */
export function notificationText(notification: Omit<UpgradeNotification, 'text'>): string {
  const { event, environment, fromVersion, toVersion, cause, approval } = notification;
  const versions = `${fromVersion ?? '?'} → ${toVersion}`;
  const failedAt = cause ? ` ${cause.step} failed: ${cause.message}.` : '';
  const lines: string[] = [];
  switch (event) {
    case 'started':
      lines.push(`AEGIS upgrade of ${environment} started: ${versions}.`);
      break;
    case 'waiting-for-approval':
      lines.push(
        `AEGIS upgrade of ${environment} (${versions}) waits for approval` +
          `${approval ? ` before ${approval.pod}; past ${approval.timeout} it rolls back` : ''}.`,
      );
      if (approval) lines.push(`Approve: ${approval.command}`);
      break;
    case 'completed':
      lines.push(`AEGIS upgrade of ${environment} completed: ${versions}.`);
      break;
    case 'rolled-back':
      lines.push(`AEGIS upgrade of ${environment} rolled back: ${versions}.${failedAt}`);
      lines.push(`Rolled back: ${listed(notification.rolledBack)}.`);
      break;
    case 'rollback-failed':
      lines.push(`AEGIS upgrade of ${environment} FAILED and so did its rollback: ${versions}.${failedAt}`);
      lines.push(
        `Rolled back: ${listed(notification.rolledBack)}. Not rolled back: ${listed(notification.notRolledBack)}.`,
      );
      if (notification.manualSteps) lines.push(`Finish it by hand: ${notification.manualSteps.join(' && ')}`);
      break;
    case 'refused':
      lines.push(`AEGIS upgrade of ${environment} to ${toVersion} refused by pre-flight, nothing changed.${failedAt}`);
      break;
  }
  for (const approval of notification.approvals ?? []) {
    lines.push(`Approved before ${approval.pod}${describeAction(approval)} (${approval.at}).`);
  }
  const restore = notification.databaseRestore;
  if (restore) {
    const { from, to } = restore.discardedWrites;
    lines.push(`Databases restored from ${restore.dumps.join(', ')}; writes from ${from} to ${to} discarded.`);
  }
  if (notification.backup) lines.push(`Backup: ${notification.backup}`);
  lines.push(`More: ${notification.command}`);
  return lines.join('\n');
}

function listed(items: string[] | undefined): string {
  return items && items.length > 0 ? items.join('; ') : 'nothing';
}

/** The rollback's steps done (or not done) by their titles. */
function rollbackSteps(report: UpgradeReport, done: boolean): string[] {
  return report.rollback.filter((step) => (step.status === 'succeeded') === done).map((step) => step.title);
}

/** A refusal has no cause recorded in the report: its failed step (pre-flight) says why. */
function failedStep(report: UpgradeReport): UpgradeCause | undefined {
  const step = report.steps.find((candidate) => candidate.status === 'failed');
  return step && { step: step.id, message: step.detail ?? 'failed' };
}

/**
 * What a webhook's receiver reads (docs/observability.md#notifications): `slack` the notification as is, whose `text`
 * Slack, Mattermost and Rocket.Chat show; `teams` an Adaptive Card, as a Teams Workflows webhook takes it; `discord`
 * its `content`.
 */
export const WEBHOOK_FORMATS = ['slack', 'teams', 'discord'] as const;

export type WebhookFormat = (typeof WEBHOOK_FORMATS)[number];

/** Discord refuses a message's `content` longer than this. */
export const DISCORD_CONTENT_LIMIT = 2000;

/** The body posted to a webhook of `format`. */
export function webhookPayload(notification: UpgradeNotification, format: WebhookFormat): object {
  switch (format) {
    case 'slack':
      return notification;
    case 'teams':
      return teamsMessage(notification);
    case 'discord':
      // A message naming `@everyone` (in a cause, say) must not ping anybody.
      return { content: shortened(notification.text, DISCORD_CONTENT_LIMIT), allowed_mentions: { parse: [] } };
  }
}

/** One text block per line of `text`, the first in bold, red when the upgrade failed. */
function teamsMessage(notification: UpgradeNotification) {
  const failed = notification.event === 'rolled-back' || notification.event === 'rollback-failed';
  const body = notification.text.split('\n').map((line, index) => ({
    type: 'TextBlock',
    text: line,
    wrap: true,
    ...(index === 0 && { weight: 'Bolder', ...(failed && { color: 'Attention' }) }),
  }));
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          body,
        },
      },
    ],
  };
}

function shortened(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 1)}…`;
}

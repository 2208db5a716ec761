import { createHash } from 'node:crypto';
import { types } from 'node:util';
import { Context, log, type Info } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { redactedUrl, webhookFor, type Webhook, type WebhookConfig } from '../config/webhooks';
import { webhookPayload, type UpgradeNotification } from '../core/notifications';
import { WebhookRefused, WebhookUndelivered } from '../core/errors';

/** A webhook answers in well under a second; one that takes longer than this is down for our purpose. */
export const WEBHOOK_ATTEMPT_TIMEOUT_MS = 10_000;

/** The longest wait a `Retry-After` may ask for: a notification later than this is stale news. */
export const RETRY_AFTER_LIMIT_MS = 5 * 60_000;

/** The answers whose `Retry-After` says when to try again (RFC 9110 for 503, RFC 6585 for 429). */
const RETRY_AFTER_STATUSES = [429, 503];

/**
 * `notify` posts an upgrade's notification to its environment's webhook, if the worker has one and it takes the event:
 * the workflow never knows the URL, which stays out of the history. Each post carries a delivery ID that its retries
 * share, and is signed when the webhook has a secret (Standard Webhooks, docs/observability.md#notifications). Errors
 * and logs name the webhook by `redactedUrl` only.
 */
export function createNotifyActivities(webhooks: WebhookConfig) {
  return {
    async notify(notification: UpgradeNotification): Promise<string> {
      const webhook = webhookFor(webhooks, notification.environment);
      if (!webhook) return `no webhook configured for ${notification.environment}`;
      const shown = redactedUrl(webhook.url);
      if (!webhook.events.includes(notification.event)) {
        return `${notification.event} not posted to ${shown}: its events are ${webhook.events.join(', ')}`;
      }
      const { info } = Context.current();
      const deliveryId = deliveryIdOf(info);
      let response: Response;
      try {
        response = await fetch(webhook.url, {
          method: 'POST',
          ...signedPost(webhook, deliveryId, notification),
          signal: AbortSignal.any([
            Context.current().cancellationSignal,
            AbortSignal.timeout(WEBHOOK_ATTEMPT_TIMEOUT_MS),
          ]),
        });
      } catch (error) {
        throw new WebhookUndelivered(`Webhook ${shown} did not answer: ${innermostMessage(error)}`);
      }
      // The answer's body is of no use, but left unread it holds the connection.
      await response.body?.cancel();
      const answer = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
      if (!response.ok) {
        const message = `Webhook ${shown} answered ${answer} to the ${notification.event} notification`;
        const retryAfter = RETRY_AFTER_STATUSES.includes(response.status)
          ? retryAfterMs(response.headers.get('retry-after'))
          : undefined;
        if (retryAfter !== undefined) throw retryLater(message, retryAfter, info);
        const permanent = response.status >= 400 && response.status < 500 && ![408, 429].includes(response.status);
        throw permanent ? new WebhookRefused(`${message}; check its URL`) : new WebhookUndelivered(message);
      }
      log.info(`Webhook ${shown} told of ${notification.event}`, {
        event: notification.event,
        webhook: shown,
        deliveryId,
      });
      return `${notification.event} delivered to ${shown} (${answer}, delivery ${deliveryId})`;
    },
  };
}

/**
 * The same for every attempt of one activity, so a receiver can drop a post it already has. Hashed: the spec wants no
 * `.` in it, and a workflow ID may hold one.
 */
function deliveryIdOf({ workflowExecution, activityId, activityRunId }: Info): string {
  const source = [workflowExecution?.workflowId, workflowExecution?.runId ?? activityRunId, activityId].join('/');
  return `msg_${createHash('sha256').update(source).digest('hex').slice(0, 32)}`;
}

/** The body in the webhook's format, and the Standard Webhooks headers: a signature when it has a secret. */
function signedPost(webhook: Webhook, deliveryId: string, notification: UpgradeNotification) {
  const body = JSON.stringify(webhookPayload(notification, webhook.format));
  // The attempt's time, not the event's: a receiver refuses an old one as a replay.
  const timestamp = String(Math.floor(Date.now() / 1000));
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'webhook-id': deliveryId,
    'webhook-timestamp': timestamp,
  };
  if (webhook.secret) headers['webhook-signature'] = webhook.secret.sign(`${deliveryId}.${timestamp}.${body}`);
  return { headers, body };
}

/** `Retry-After` in milliseconds from now: delay-seconds or an HTTP date; none when absent or not either. */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isInteger(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * The next attempt after `delayMs`, as the webhook asked; none when that is past the delivery's deadline (its
 * schedule-to-close) or RETRY_AFTER_LIMIT_MS: retrying sooner than asked is what `Retry-After` forbids.
 */
function retryLater(message: string, delayMs: number, info: Info): ApplicationFailure {
  const deadline = info.scheduleToCloseTimeoutMs ? info.scheduledTimestampMs + info.scheduleToCloseTimeoutMs : Infinity;
  const limit = Math.min(RETRY_AFTER_LIMIT_MS, deadline - Date.now());
  const asked = `${message}, asking to retry after ${Math.ceil(delayMs / 1000)} s`;
  if (delayMs > limit) {
    return ApplicationFailure.create({
      type: 'WebhookUndelivered',
      message: `${asked}: later than this delivery may wait, not retried`,
      nonRetryable: true,
    });
  }
  return ApplicationFailure.create({ type: 'WebhookUndelivered', message: asked, nextRetryDelay: delayMs });
}

/**
 * fetch wraps the reason (`fetch failed`): the socket's own error (`connect ECONNREFUSED 127.0.0.1:9`) says more.
 * `isNativeError`, not `instanceof`: fetch's errors may come from another realm than this module's (Jest's).
 */
function innermostMessage(error: unknown): string {
  let current = error;
  while (types.isNativeError(current) && types.isNativeError(current.cause)) current = current.cause;
  return types.isNativeError(current) ? current.message : String(current);
}

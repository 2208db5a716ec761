import { Context, log } from '@temporalio/activity';
import { redactedUrl, webhookFor, type WebhookConfig } from '../config/webhooks';
import type { UpgradeNotification } from '../core/notifications';
import { WebhookRefused, WebhookUndelivered } from '../core/errors';

/** A webhook answers in well under a second; one that takes longer than this is down for our purpose. */
export const WEBHOOK_ATTEMPT_TIMEOUT_MS = 10_000;

export type PostJson = (url: string, init: RequestInit) => Promise<Response>;

/**
 * `notify` posts an upgrade's notification to its environment's webhook, if the worker has one: the workflow never
 * knows the URL, which stays out of the history. Errors and logs name the webhook by `redactedUrl` only.
 */
export function createNotifyActivities(webhooks: WebhookConfig, post: PostJson = fetch) {
  return {
    async notify(notification: UpgradeNotification): Promise<string> {
      const url = webhookFor(webhooks, notification.environment);
      if (!url) return `no webhook configured for ${notification.environment}`;
      const webhook = redactedUrl(url);
      let response: Response;
      try {
        response = await post(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(notification),
          signal: AbortSignal.any([
            Context.current().cancellationSignal,
            AbortSignal.timeout(WEBHOOK_ATTEMPT_TIMEOUT_MS),
          ]),
        });
      } catch (error) {
        throw new WebhookUndelivered(`Webhook ${webhook} did not answer: ${innermostMessage(error)}`);
      }
      // The answer's body is of no use, but left unread it holds the connection.
      await response.body?.cancel();
      const answer = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
      if (!response.ok) {
        const permanent = response.status >= 400 && response.status < 500 && ![408, 429].includes(response.status);
        const message = `Webhook ${webhook} answered ${answer} to the ${notification.event} notification`;
        throw permanent ? new WebhookRefused(`${message}; check its URL`) : new WebhookUndelivered(message);
      }
      log.info(`Webhook ${webhook} told of ${notification.event}`, { event: notification.event, webhook });
      return `${notification.event} delivered to ${webhook} (${answer})`;
    },
  };
}

/** fetch wraps the reason (`fetch failed`): the socket's own error (`connect ECONNREFUSED 127.0.0.1:9`) says more. */
function innermostMessage(error: unknown): string {
  let current = error;
  while (current instanceof Error && current.cause instanceof Error) current = current.cause;
  return current instanceof Error ? current.message : String(current);
}

import { ConfigError, setVariables, type Env } from './variables';

/** The webhook of every environment's upgrades, unless an environment has its own. */
export const WEBHOOK_URL_VARIABLE = 'AEGIS_WEBHOOK_URL';

/**
 * Where the worker posts its upgrades' notifications. A URL often holds its token (Slack, Mattermost, Discord): it is
 * never logged or shown whole, only as `redactedUrl` gives it.
 */
export interface WebhookConfig {
  /** @default none (`AEGIS_WEBHOOK_URL`) */
  all?: string;
  /** Per environment, keyed by its variable's name (`AEGIS_WEBHOOK_URL_STAGING`); it replaces `all` for it. */
  perEnvironment: Record<string, string>;
}

/** The variable naming the webhook of one environment: `prod-eu` → `AEGIS_WEBHOOK_URL_PROD_EU`. */
export function webhookVariable(environment: string): string {
  return `${WEBHOOK_URL_VARIABLE}_${environment.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/** The webhook of `environment`: its own, else the one for all; none when neither is set. */
export function webhookFor(webhooks: WebhookConfig, environment: string): string | undefined {
  return webhooks.perEnvironment[webhookVariable(environment)] ?? webhooks.all;
}

/** A webhook as logs and errors may show it: scheme and host, never the path, query or user that hold its token. */
export function redactedUrl(url: string): string {
  const { protocol, host, pathname, search } = new URL(url);
  return `${protocol}//${host}${pathname === '/' && !search ? '' : '/…'}`;
}

/** Reads `AEGIS_WEBHOOK_URL` and every `AEGIS_WEBHOOK_URL_<ENV>`; a value that is no http(s) URL stops the worker. */
export function loadWebhooks(env: Env): WebhookConfig {
  const webhooks: WebhookConfig = { perEnvironment: {} };
  for (const [name, value] of Object.entries(setVariables(env))) {
    if (name === WEBHOOK_URL_VARIABLE) webhooks.all = webhookUrl(name, value);
    else if (name.startsWith(`${WEBHOOK_URL_VARIABLE}_`)) webhooks.perEnvironment[name] = webhookUrl(name, value);
  }
  return webhooks;
}

function webhookUrl(name: string, value: string): string {
  const trimmed = value.trim();
  // The value is not repeated: it may hold the webhook's token.
  const wrong = new ConfigError(`Expected ${name} to be an http(s) URL like https://chat.example/hooks/…, it is not`);
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    throw wrong;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw wrong;
  return trimmed;
}

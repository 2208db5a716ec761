import { createHmac } from 'node:crypto';
import { UPGRADE_EVENTS, WEBHOOK_FORMATS, type UpgradeEvent, type WebhookFormat } from '../core/notifications';
import { ConfigError, setVariables, type Env } from './variables';

/** The webhook of every environment's upgrades, unless an environment has its own. */
export const WEBHOOK_URL_VARIABLE = 'AEGIS_WEBHOOK_URL';

/** A webhook's other settings, each named like its URL's variable: `AEGIS_WEBHOOK_SECRET_PROD_EU` beside `…_URL_PROD_EU`. */
const SETTING_VARIABLES = {
  secret: 'AEGIS_WEBHOOK_SECRET',
  format: 'AEGIS_WEBHOOK_FORMAT',
  events: 'AEGIS_WEBHOOK_EVENTS',
} as const;

/**
 * A Standard Webhooks signing secret (docs/observability.md#notifications). The key is a private field: JSON and
 * `util.inspect` (every log line) show none of it.
 */
export class SigningSecret {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    this.#key = key;
  }

  /** `v1,<base64 HMAC-SHA256>` of `content`, as the `webhook-signature` header carries it. */
  sign(content: string): string {
    return `v1,${createHmac('sha256', this.#key).update(content).digest('base64')}`;
  }
}

/** One webhook, with the settings that share its suffix: none is inherited from another webhook. */
export interface Webhook {
  /** It often holds its token (Slack, Mattermost, Discord): never logged or shown whole, only as `redactedUrl` gives it. */
  url: string;
  /** Signs every post when set. @default none: unsigned (`AEGIS_WEBHOOK_SECRET[_<ENV>]`) */
  secret?: SigningSecret;
  /** The body its receiver reads. @default 'slack' (`AEGIS_WEBHOOK_FORMAT[_<ENV>]`) */
  format: WebhookFormat;
  /** The events it is told of. @default every event (`AEGIS_WEBHOOK_EVENTS[_<ENV>]`, comma-separated) */
  events: readonly UpgradeEvent[];
}

/** Where the worker posts its upgrades' notifications. */
export interface WebhookConfig {
  /** @default none (`AEGIS_WEBHOOK_URL`) */
  all?: Webhook;
  /** Per environment, keyed by its URL variable's name (`AEGIS_WEBHOOK_URL_STAGING`); it replaces `all` for it. */
  perEnvironment: Record<string, Webhook>;
}

/** The variable naming the webhook of one environment: `prod-eu` → `AEGIS_WEBHOOK_URL_PROD_EU`. */
export function webhookVariable(environment: string): string {
  return `${WEBHOOK_URL_VARIABLE}_${environment.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/** The webhook of `environment`: its own, else the one for all; none when neither is set. */
export function webhookFor(webhooks: WebhookConfig, environment: string): Webhook | undefined {
  return webhooks.perEnvironment[webhookVariable(environment)] ?? webhooks.all;
}

/** A webhook as logs and errors may show it: scheme and host, never the path, query or user that hold its token. */
export function redactedUrl(url: string): string {
  const { protocol, host, pathname, search } = new URL(url);
  return `${protocol}//${host}${pathname === '/' && !search ? '' : '/…'}`;
}

/**
 * Reads `AEGIS_WEBHOOK_URL` and every `AEGIS_WEBHOOK_URL_<ENV>`, each with its secret, format and events. A wrong value,
 * or a setting without its URL, stops the worker.
 */
export function loadWebhooks(env: Env): WebhookConfig {
  const variables = setVariables(env);
  const webhooks: WebhookConfig = { perEnvironment: {} };
  const suffixes = new Set<string>();
  for (const name of Object.keys(variables)) {
    for (const base of [WEBHOOK_URL_VARIABLE, ...Object.values(SETTING_VARIABLES)]) {
      if (name === base || name.startsWith(`${base}_`)) suffixes.add(name.slice(base.length));
    }
  }
  for (const suffix of suffixes) {
    const urlName = `${WEBHOOK_URL_VARIABLE}${suffix}`;
    const value = (setting: string) => variables[`${setting}${suffix}`]?.trim();
    const url = value(WEBHOOK_URL_VARIABLE);
    if (url === undefined) {
      const orphan = Object.values(SETTING_VARIABLES).find((setting) => value(setting) !== undefined);
      throw new ConfigError(`${orphan}${suffix} is set but ${urlName} is not: set both, or neither`);
    }
    const secret = value(SETTING_VARIABLES.secret);
    const format = value(SETTING_VARIABLES.format);
    const events = value(SETTING_VARIABLES.events);
    const webhook: Webhook = {
      url: webhookUrl(urlName, url),
      ...(secret !== undefined && { secret: signingSecret(`${SETTING_VARIABLES.secret}${suffix}`, secret) }),
      format: format === undefined ? 'slack' : webhookFormat(`${SETTING_VARIABLES.format}${suffix}`, format),
      events: events === undefined ? UPGRADE_EVENTS : eventList(`${SETTING_VARIABLES.events}${suffix}`, events),
    };
    if (suffix === '') webhooks.all = webhook;
    else webhooks.perEnvironment[urlName] = webhook;
  }
  return webhooks;
}

function webhookUrl(name: string, value: string): string {
  // The value is not repeated: it may hold the webhook's token.
  const wrong = new ConfigError(`Expected ${name} to be an http(s) URL like https://chat.example/hooks/…, it is not`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw wrong;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw wrong;
  return value;
}

/** The Standard Webhooks form: `whsec_`, then 24 to 64 random bytes in base64. */
const SECRET_PREFIX = 'whsec_';
const SECRET_BYTES = { min: 24, max: 64 };

function signingSecret(name: string, value: string): SigningSecret {
  const encoded = value.startsWith(SECRET_PREFIX) ? value.slice(SECRET_PREFIX.length) : '';
  const key = Buffer.from(encoded, 'base64');
  // Buffer skips what is not base64: only a value that encodes back the same is one.
  if (key.toString('base64') !== encoded || key.length < SECRET_BYTES.min || key.length > SECRET_BYTES.max) {
    // The value is not repeated: it is the secret.
    throw new ConfigError(
      `Expected ${name} to be whsec_ and ${SECRET_BYTES.min} to ${SECRET_BYTES.max} random bytes in base64, ` +
        'like whsec_$(openssl rand -base64 32); it is not',
    );
  }
  return new SigningSecret(key);
}

function webhookFormat(name: string, value: string): WebhookFormat {
  const format = WEBHOOK_FORMATS.find((known) => known === value);
  if (!format) throw new ConfigError(`Expected ${name} to be one of ${WEBHOOK_FORMATS.join(', ')}, got \`${value}\``);
  return format;
}

function eventList(name: string, value: string): UpgradeEvent[] {
  return value.split(',').map((item) => {
    const event = UPGRADE_EVENTS.find((known) => known === item.trim());
    if (!event) {
      throw new ConfigError(
        `Expected ${name} to list events among ${UPGRADE_EVENTS.join(', ')}, separated by commas; got \`${item.trim()}\``,
      );
    }
    return event;
  });
}

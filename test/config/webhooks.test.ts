import { inspect } from 'node:util';
import { ConfigError, loadConfig } from '../../src/config';
import { loadWebhooks, redactedUrl, webhookFor, webhookVariable } from '../../src/config/webhooks';
import { UPGRADE_EVENTS } from '../../src/core/notifications';
import { standardWebhooksSecret } from '../helpers/webhook-receiver';
import { thrown } from '../helpers/thrown';

const SLACK = 'https://hooks.slack.example/services/T000/B000/s3cr3t-t0ken';
const PROD = 'https://chat.example/hooks/prod-t0ken';
const SECRET = standardWebhooksSecret('config');

describe('webhooks', () => {
  it('has none unless AEGIS_WEBHOOK_URL or AEGIS_WEBHOOK_URL_<ENV> is set', () => {
    const webhooks = loadConfig({ AEGIS_ROOT: '/srv/aegis-deploy', AEGIS_WEBHOOK_URL: ' ' }).notifications.webhooks;

    expect(webhooks).toEqual({ perEnvironment: {} });
    expect(webhookFor(webhooks, 'default')).toBeUndefined();
  });

  it("gives an environment its own webhook, else the one for all; its name's other characters become _", () => {
    const webhooks = loadWebhooks({ AEGIS_WEBHOOK_URL: SLACK, AEGIS_WEBHOOK_URL_PROD_EU: PROD, PATH: '/usr/bin' });

    expect(webhookVariable('prod-eu')).toBe('AEGIS_WEBHOOK_URL_PROD_EU');
    expect(webhookFor(webhooks, 'prod-eu')?.url).toBe(PROD);
    expect(webhookFor(webhooks, 'staging')?.url).toBe(SLACK);
    expect(webhookFor(loadWebhooks({ AEGIS_WEBHOOK_URL_PROD_EU: PROD }), 'staging')).toBeUndefined();
  });

  it('defaults to unsigned, the slack format and every event', () => {
    expect(loadWebhooks({ AEGIS_WEBHOOK_URL: ` ${SLACK} ` }).all).toEqual({
      url: SLACK,
      format: 'slack',
      events: UPGRADE_EVENTS,
    });
  });

  it("reads each webhook's secret, format and events beside its URL, none of them inherited from the one for all", () => {
    const webhooks = loadWebhooks({
      AEGIS_WEBHOOK_URL: SLACK,
      AEGIS_WEBHOOK_SECRET: SECRET,
      AEGIS_WEBHOOK_EVENTS: 'rolled-back,rollback-failed',
      AEGIS_WEBHOOK_URL_PROD_EU: PROD,
      AEGIS_WEBHOOK_FORMAT_PROD_EU: 'teams',
      AEGIS_WEBHOOK_EVENTS_PROD_EU: ' completed , refused ',
      AEGIS_WEBHOOK_URL_LAB: PROD,
      AEGIS_WEBHOOK_FORMAT_LAB: 'discord',
    });

    expect(webhooks.all).toMatchObject({ url: SLACK, format: 'slack', events: ['rolled-back', 'rollback-failed'] });
    expect(webhooks.all?.secret).toBeDefined();
    expect(webhookFor(webhooks, 'prod-eu')).toEqual({ url: PROD, format: 'teams', events: ['completed', 'refused'] });
    expect(webhookFor(webhooks, 'lab')).toEqual({ url: PROD, format: 'discord', events: UPGRADE_EVENTS });
  });

  it('never shows a secret: not in JSON, not as a log line would inspect the config', () => {
    const config = loadConfig({
      AEGIS_ROOT: '/srv/aegis-deploy',
      AEGIS_WEBHOOK_URL: SLACK,
      AEGIS_WEBHOOK_SECRET: SECRET,
    });
    const encoded = SECRET.slice('whsec_'.length);
    const key = Buffer.from(encoded, 'base64');

    for (const shown of [JSON.stringify(config), inspect(config, { depth: null, showHidden: true })]) {
      expect(shown).not.toContain(encoded);
      expect(shown).not.toContain(key.toString('hex'));
    }
    expect(inspect(config.notifications.webhooks.all?.secret)).toBe('SigningSecret {}');
  });

  it.each([
    ['AEGIS_WEBHOOK_SECRET_STAGING', SECRET],
    ['AEGIS_WEBHOOK_FORMAT_STAGING', 'teams'],
    ['AEGIS_WEBHOOK_EVENTS', 'completed'],
  ])('refuses %s without its URL', (name, value) => {
    const { message } = thrown(ConfigError, () => loadWebhooks({ AEGIS_WEBHOOK_URL_PROD: PROD, [name]: value }));

    const url = name.replace(/^AEGIS_WEBHOOK_[A-Z]+/, 'AEGIS_WEBHOOK_URL');
    expect(message).toBe(`${name} is set but ${url} is not: set both, or neither`);
  });

  it.each([
    ['no prefix', SECRET.slice('whsec_'.length)],
    ['not base64', 'whsec_not base64 at all, this one'],
    ['16 bytes, too short', `whsec_${Buffer.alloc(16, 7).toString('base64')}`],
    ['65 bytes, too long', `whsec_${Buffer.alloc(65, 7).toString('base64')}`],
  ])('refuses a secret with %s, naming the variable and not repeating the value', (_why, bad) => {
    const { message } = thrown(ConfigError, () =>
      loadWebhooks({ AEGIS_WEBHOOK_URL_STAGING: SLACK, AEGIS_WEBHOOK_SECRET_STAGING: bad }),
    );

    expect(message).toBe(
      'Expected AEGIS_WEBHOOK_SECRET_STAGING to be whsec_ and 24 to 64 random bytes in base64, ' +
        'like whsec_$(openssl rand -base64 32); it is not',
    );
  });

  it('refuses a format it does not know, naming those it does', () => {
    const { message } = thrown(ConfigError, () =>
      loadWebhooks({ AEGIS_WEBHOOK_URL: SLACK, AEGIS_WEBHOOK_FORMAT: 'msteams' }),
    );

    expect(message).toBe('Expected AEGIS_WEBHOOK_FORMAT to be one of slack, teams, discord, got `msteams`');
  });

  it.each(['completed,finished', 'completed,'])('refuses the events `%s`, naming those it knows', (events) => {
    const { message } = thrown(ConfigError, () =>
      loadWebhooks({ AEGIS_WEBHOOK_URL: SLACK, AEGIS_WEBHOOK_EVENTS: events }),
    );

    expect(message).toMatch(
      /^Expected AEGIS_WEBHOOK_EVENTS to list events among started, waiting-for-approval, completed, rolled-back, rollback-failed, refused, separated by commas; got `(finished)?`$/,
    );
  });

  it.each(['hooks.slack.example/services/T000/s3cr3t', 'ftp://chat.example/s3cr3t', 'https://'])(
    'refuses `%s`, naming the variable and not repeating the value',
    (bad) => {
      const { message } = thrown(ConfigError, () => loadWebhooks({ AEGIS_WEBHOOK_URL_STAGING: bad }));

      expect(message).toBe(
        'Expected AEGIS_WEBHOOK_URL_STAGING to be an http(s) URL like https://chat.example/hooks/…, it is not',
      );
    },
  );

  it.each([
    [SLACK, 'https://hooks.slack.example/…'],
    ['http://user:pa55@127.0.0.1:8065/', 'http://127.0.0.1:8065'],
    ['http://127.0.0.1:8065/?token=s3cr3t', 'http://127.0.0.1:8065/…'],
  ])('shows %s as %s: no path, query or user', (url, shown) => {
    expect(redactedUrl(url)).toBe(shown);
  });
});

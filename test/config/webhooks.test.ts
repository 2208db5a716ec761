import { ConfigError, loadConfig } from '../../src/config';
import { loadWebhooks, redactedUrl, webhookFor, webhookVariable } from '../../src/config/webhooks';
import { thrown } from '../helpers/thrown';

const SLACK = 'https://hooks.slack.example/services/T000/B000/s3cr3t-t0ken';
const PROD = 'https://chat.example/hooks/prod-t0ken';

describe('webhooks', () => {
  it('has none unless AEGIS_WEBHOOK_URL or AEGIS_WEBHOOK_URL_<ENV> is set', () => {
    const webhooks = loadConfig({ AEGIS_ROOT: '/srv/aegis-deploy', AEGIS_WEBHOOK_URL: ' ' }).notifications.webhooks;

    expect(webhooks).toEqual({ perEnvironment: {} });
    expect(webhookFor(webhooks, 'default')).toBeUndefined();
  });

  it("gives an environment its own webhook, else the one for all; its name's other characters become _", () => {
    const webhooks = loadWebhooks({ AEGIS_WEBHOOK_URL: SLACK, AEGIS_WEBHOOK_URL_PROD_EU: PROD, PATH: '/usr/bin' });

    expect(webhookVariable('prod-eu')).toBe('AEGIS_WEBHOOK_URL_PROD_EU');
    expect(webhookFor(webhooks, 'prod-eu')).toBe(PROD);
    expect(webhookFor(webhooks, 'staging')).toBe(SLACK);
    expect(webhookFor(loadWebhooks({ AEGIS_WEBHOOK_URL_PROD_EU: PROD }), 'staging')).toBeUndefined();
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

import { WebhookRefused, WebhookUndelivered } from '../../src/core/errors';
import { createNotifyActivities, type PostJson } from '../../src/activities/notify';
import type { WebhookConfig } from '../../src/config/webhooks';
import { upgradeNotification, type UpgradeNotification } from '../../src/core/notifications';
import { activityEnvironment } from '../helpers/activity-environment';
import { upgradeReport } from '../helpers/reports';

const URL_WITH_TOKEN = 'https://chat.example/hooks/s3cr3t-t0ken';

const notification: UpgradeNotification = upgradeNotification({
  event: 'completed',
  workflowId: 'aegis-upgrade-staging',
  at: '2026-11-27T03:10:00.000Z',
  report: upgradeReport({ phase: 'completed' }),
});

/** A webhook that answers `status` (or throws `error`) and records what it was sent. */
function webhook(status: number, error?: Error) {
  const sent: { url: string; init: RequestInit }[] = [];
  const post: PostJson = async (url, init) => {
    sent.push({ url, init });
    if (error) throw error;
    return new Response('ok', { status });
  };
  return { sent, post };
}

async function notify(post: PostJson, webhooks: WebhookConfig = { all: URL_WITH_TOKEN, perEnvironment: {} }) {
  return activityEnvironment().run(createNotifyActivities(webhooks, post).notify, notification);
}

/** What `notify` threw, to check its class and that its message keeps the token out. */
async function failure(post: PostJson): Promise<Error> {
  const error = await notify(post).then(
    () => undefined,
    (thrown: unknown) => thrown as Error,
  );
  if (!error) throw new Error('Expected notify to fail');
  expect(error.message).not.toContain('s3cr3t');
  return error;
}

describe('notify', () => {
  it('does nothing when the environment has no webhook', async () => {
    const { sent, post } = webhook(200);

    await expect(notify(post, { perEnvironment: {} })).resolves.toBe('no webhook configured for staging');
    expect(sent).toHaveLength(0);
  });

  it('posts the notification as JSON to the webhook, naming it without its token', async () => {
    const { sent, post } = webhook(200);

    await expect(notify(post)).resolves.toBe('completed delivered to https://chat.example/… (HTTP 200)');
    expect(sent).toHaveLength(1);
    expect(sent[0]?.url).toBe(URL_WITH_TOKEN);
    expect(sent[0]?.init.method).toBe('POST');
    expect(sent[0]?.init.headers).toEqual({ 'content-type': 'application/json' });
    expect(JSON.parse(String(sent[0]?.init.body))).toEqual(notification);
  });

  it.each([500, 503, 408, 429])('answers %i with WebhookUndelivered, which is retried', async (status) => {
    const error = await failure(webhook(status).post);

    expect(error).toBeInstanceOf(WebhookUndelivered);
    expect(error.message).toBe(`Webhook https://chat.example/… answered HTTP ${status} to the completed notification`);
  });

  it.each([400, 401, 404])('answers %i with WebhookRefused, which is not retried', async (status) => {
    const error = await failure(webhook(status).post);

    expect(error).toBeInstanceOf(WebhookRefused);
    expect(error.message).toBe(
      `Webhook https://chat.example/… answered HTTP ${status} to the completed notification; check its URL`,
    );
  });

  it("names the socket's error when the webhook does not answer", async () => {
    const refused = new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:9') });
    const error = await failure(webhook(0, refused).post);

    expect(error).toBeInstanceOf(WebhookUndelivered);
    expect(error.message).toBe('Webhook https://chat.example/… did not answer: connect ECONNREFUSED 127.0.0.1:9');
  });
});

import type { Info } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { WebhookRefused, WebhookUndelivered } from '../../src/core/errors';
import { createNotifyActivities, retryAfterMs } from '../../src/activities/notify';
import { loadWebhooks } from '../../src/config/webhooks';
import {
  DISCORD_CONTENT_LIMIT,
  upgradeNotification,
  type UpgradeEvent,
  type UpgradeNotification,
} from '../../src/core/notifications';
import { activityEnvironment } from '../helpers/activity-environment';
import { upgradeReport } from '../helpers/reports';
import { freePort } from '../helpers/temporal-server';
import {
  signedWith,
  standardWebhooksSecret,
  startWebhookReceiver,
  type WebhookAnswer,
  type WebhookPost,
  type WebhookReceiver,
} from '../helpers/webhook-receiver';

const TOKEN = 's3cr3t-t0ken';
const SECRET = standardWebhooksSecret('notify');

const notificationOf = (event: UpgradeEvent): UpgradeNotification =>
  upgradeNotification({
    event,
    workflowId: 'aegis-upgrade-staging',
    at: '2026-11-27T03:10:00.000Z',
    report: upgradeReport({ phase: event === 'rolled-back' ? 'rolled-back' : 'completed' }),
  });
const completed = notificationOf('completed');

/** One attempt of the activity of the upgrade of staging, as the worker would run it: its deadline a minute away. */
const attempt = (info: Partial<Info> = {}): Partial<Info> => ({
  workflowExecution: { workflowId: 'aegis-upgrade-staging', runId: '0b1c2d3e-0000-4000-8000-000000000001' },
  activityId: '7',
  scheduledTimestampMs: Date.now(),
  scheduleToCloseTimeoutMs: 60_000,
  ...info,
});

const receivers: WebhookReceiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((receiver) => receiver.close()));
});

/** A real HTTP receiver answering each post in turn with `answers` (the last one again once they run out). */
async function receiver(...answers: WebhookAnswer[]): Promise<WebhookReceiver> {
  const started = await startWebhookReceiver(
    TOKEN,
    (_post, index) => answers[index] ?? answers.at(-1) ?? { status: 200 },
  );
  receivers.push(started);
  return started;
}

/** `notify` run on one attempt, the worker's webhooks read from `env` as the worker reads them. */
async function notify(env: Record<string, string>, notification = completed, info = attempt()) {
  return activityEnvironment(info).run(createNotifyActivities(loadWebhooks(env)).notify, notification);
}

/** What `notify` threw, checking that its message keeps the token out. */
async function failure(env: Record<string, string>, info = attempt()): Promise<Error> {
  const error = await notify(env, completed, info).then(
    () => undefined,
    (thrown: unknown) => thrown as Error,
  );
  if (!error) throw new Error('Expected notify to fail');
  expect(error.message).not.toContain(TOKEN);
  return error;
}

const json = (post: WebhookPost | undefined): unknown => JSON.parse(post?.body ?? 'null');

describe('notify', () => {
  it('does nothing when the environment has no webhook', async () => {
    const { url, posts } = await receiver({ status: 200 });

    await expect(notify({ AEGIS_WEBHOOK_URL_PROD: url })).resolves.toBe('no webhook configured for staging');
    expect(posts).toHaveLength(0);
  });

  it('posts the notification as JSON with a delivery ID and its time, naming the webhook without its token', async () => {
    const { url, posts } = await receiver({ status: 200 });
    const before = Math.floor(Date.now() / 1000);

    await expect(notify({ AEGIS_WEBHOOK_URL: url })).resolves.toMatch(
      /^completed delivered to http:\/\/127\.0\.0\.1:\d+\/… \(HTTP 200 OK, delivery msg_[0-9a-f]{32}\)$/,
    );
    expect(posts).toHaveLength(1);
    expect(posts[0]?.path).toBe(`POST /hooks/${TOKEN}`);
    expect(posts[0]?.headers['content-type']).toBe('application/json');
    expect(posts[0]?.headers['webhook-id']).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(Number(posts[0]?.headers['webhook-timestamp'])).toBeGreaterThanOrEqual(before);
    expect(posts[0]?.headers['webhook-signature']).toBeUndefined();
    expect(json(posts[0])).toEqual(completed);
  });

  describe('signed as Standard Webhooks, when the webhook has a secret', () => {
    it('carries a signature its receiver verifies over the ID, the time and the raw body', async () => {
      const { url, posts } = await receiver({ status: 200 });

      await notify({ AEGIS_WEBHOOK_URL_STAGING: url, AEGIS_WEBHOOK_SECRET_STAGING: SECRET });

      expect(posts[0]?.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
      expect(signedWith(SECRET, posts[0]!)).toBe(true);
      // The receiver's check refuses another secret, another body, and an old post replayed.
      expect(signedWith(standardWebhooksSecret('another'), posts[0]!)).toBe(false);
      expect(signedWith(SECRET, { ...posts[0]!, body: posts[0]!.body.replace('1.3.0', '1.3.1') })).toBe(false);
      expect(signedWith(SECRET, posts[0]!, Date.now() + 10 * 60_000)).toBe(false);
    });

    it('keeps the delivery ID of a notification across its retries, each signed anew; another activity has another', async () => {
      const { url, posts } = await receiver({ status: 503 }, { status: 200 }, { status: 200 });
      const env = { AEGIS_WEBHOOK_URL: url, AEGIS_WEBHOOK_SECRET: SECRET };

      expect(await failure(env, attempt({ attempt: 1 }))).toBeInstanceOf(WebhookUndelivered);
      await notify(env, completed, attempt({ attempt: 2 }));
      await notify(env, completed, attempt({ activityId: '8' }));

      const [first, retry, other] = posts.map((post) => post.headers['webhook-id']);
      expect(retry).toBe(first);
      expect(other).not.toBe(first);
      expect(posts.every((post) => signedWith(SECRET, post))).toBe(true);
    });
  });

  describe('Retry-After', () => {
    it.each([429, 503])('on %i, the next attempt waits as long as the webhook asked', async (status) => {
      const { url } = await receiver({ status, headers: { 'retry-after': '7' } });

      const error = await failure({ AEGIS_WEBHOOK_URL: url });

      expect(error).toBeInstanceOf(ApplicationFailure);
      expect(error).toMatchObject({ type: 'WebhookUndelivered', nonRetryable: false, nextRetryDelay: 7000 });
      expect(error.message).toMatch(
        new RegExp(
          `^Webhook http://127\\.0\\.0\\.1:\\d+/… answered HTTP ${status} .* to the completed notification, asking to retry after 7 s$`,
        ),
      );
    });

    it('reads an HTTP date as the time to retry at', async () => {
      const at = new Date(Math.ceil(Date.now() / 1000) * 1000 + 20_000);
      const { url } = await receiver({ status: 503, headers: { 'retry-after': at.toUTCString() } });
      const before = Date.now();

      const { nextRetryDelay } = (await failure({ AEGIS_WEBHOOK_URL: url })) as ApplicationFailure;

      expect(nextRetryDelay).toBeGreaterThan(15_000);
      expect(nextRetryDelay).toBeLessThanOrEqual(at.getTime() - before);
      expect(retryAfterMs(at.toUTCString(), at.getTime() - 4000)).toBe(4000);
      expect(retryAfterMs('soon')).toBeUndefined();
    });

    it("gives up at once when the wait asked ends past the delivery's deadline, rather than retry too soon", async () => {
      const { url } = await receiver({ status: 429, headers: { 'retry-after': '120' } });

      const error = await failure({ AEGIS_WEBHOOK_URL: url });

      expect(error).toMatchObject({ type: 'WebhookUndelivered', nonRetryable: true });
      expect(error.message).toMatch(/asking to retry after 120 s: later than this delivery may wait, not retried$/);
    });

    it('is not read on another status: a 500 is retried as the policy says', async () => {
      const { url } = await receiver({ status: 500, headers: { 'retry-after': '7' } });

      const error = await failure({ AEGIS_WEBHOOK_URL: url });

      expect(error).toBeInstanceOf(WebhookUndelivered);
      expect(error.message).toMatch(/answered HTTP 500 Internal Server Error to the completed notification$/);
    });
  });

  it('posts only the events its webhook takes', async () => {
    const { url, posts } = await receiver({ status: 200 });
    const env = { AEGIS_WEBHOOK_URL_STAGING: url, AEGIS_WEBHOOK_EVENTS_STAGING: 'rolled-back, rollback-failed' };

    await expect(notify(env, notificationOf('completed'))).resolves.toMatch(
      /^completed not posted to http:\/\/127\.0\.0\.1:\d+\/…: its events are rolled-back, rollback-failed$/,
    );
    await notify(env, notificationOf('rolled-back'));

    expect(posts.map((post) => (json(post) as UpgradeNotification).event)).toEqual(['rolled-back']);
  });

  describe('formats', () => {
    it('teams: an Adaptive Card as a Teams Workflows webhook takes it, one block per line, the first in bold', async () => {
      const { url, posts } = await receiver({ status: 202 });
      const rolledBack = notificationOf('rolled-back');

      await notify({ AEGIS_WEBHOOK_URL: url, AEGIS_WEBHOOK_FORMAT: 'teams' }, rolledBack);

      const lines = rolledBack.text.split('\n');
      expect(json(posts[0])).toEqual({
        type: 'message',
        attachments: [
          {
            contentType: 'application/vnd.microsoft.card.adaptive',
            contentUrl: null,
            content: {
              $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
              type: 'AdaptiveCard',
              version: '1.4',
              body: lines.map((text, index) => ({
                type: 'TextBlock',
                text,
                wrap: true,
                ...(index === 0 && { weight: 'Bolder', color: 'Attention' }),
              })),
            },
          },
        ],
      });
      expect(lines.length).toBeGreaterThan(1);
    });

    it('discord: the text as `content`, pinging nobody, cut to what Discord takes', async () => {
      const { url, posts } = await receiver({ status: 204 });
      const long = { ...completed, text: `@everyone ${'x'.repeat(3000)}` };

      await notify({ AEGIS_WEBHOOK_URL: url, AEGIS_WEBHOOK_FORMAT: 'discord' });
      await notify({ AEGIS_WEBHOOK_URL: url, AEGIS_WEBHOOK_FORMAT: 'discord' }, long);

      expect(json(posts[0])).toEqual({ content: completed.text, allowed_mentions: { parse: [] } });
      const { content } = json(posts[1]) as { content: string };
      expect(content).toHaveLength(DISCORD_CONTENT_LIMIT);
      expect(content.endsWith('x…')).toBe(true);
    });

    it('slack, the default: the notification itself, whose `text` Slack and Mattermost show', async () => {
      const { url, posts } = await receiver({ status: 200 });

      await notify({ AEGIS_WEBHOOK_URL: url, AEGIS_WEBHOOK_FORMAT: 'slack' });

      expect(json(posts[0])).toEqual(completed);
    });
  });

  it.each([500, 503, 408, 429])(
    'answers %i without Retry-After with WebhookUndelivered, which is retried',
    async (status) => {
      const { url } = await receiver({ status });

      const error = await failure({ AEGIS_WEBHOOK_URL: url });

      expect(error).toBeInstanceOf(WebhookUndelivered);
      expect(error.message).toMatch(
        new RegExp(
          `^Webhook http://127\\.0\\.0\\.1:\\d+/… answered HTTP ${status} [A-Za-z ]+ to the completed notification$`,
        ),
      );
    },
  );

  it.each([400, 401, 404])('answers %i with WebhookRefused, which is not retried', async (status) => {
    const { url } = await receiver({ status });

    const error = await failure({ AEGIS_WEBHOOK_URL: url });

    expect(error).toBeInstanceOf(WebhookRefused);
    expect(error.message).toMatch(/ to the completed notification; check its URL$/);
  });

  it("names the socket's error when the webhook does not answer", async () => {
    const port = await freePort();

    const error = await failure({ AEGIS_WEBHOOK_URL: `http://127.0.0.1:${port}/hooks/${TOKEN}` });

    expect(error).toBeInstanceOf(WebhookUndelivered);
    expect(error.message).toBe(
      `Webhook http://127.0.0.1:${port}/… did not answer: connect ECONNREFUSED 127.0.0.1:${port}`,
    );
  });
});

import { createNotifyActivities } from '../../src/activities/notify';
import { loadWebhooks } from '../../src/config/webhooks';
import { planWorkflowId } from '../../src/core/environments';
import type { UpgradeEvent, UpgradeNotification } from '../../src/core/notifications';
import {
  UpgradeFailureType,
  approveSignal,
  progressQuery,
  type UpgradeReport,
  type UpgradeRequest,
} from '../../src/core/upgrade';
import { upgradeFailure } from '../helpers/platform';
import { startStandInServer, until, type StandInScenario, type StandInServer } from '../helpers/stand-in-activities';
import { freePort } from '../helpers/temporal-server';
import {
  signedWith,
  standardWebhooksSecret,
  startWebhookReceiver,
  type WebhookAnswer,
  type WebhookPost,
} from '../helpers/webhook-receiver';

const SETUP_TIMEOUT_MS = 2 * 60_000;
/** A dead webhook adds up to three attempts per notification to an upgrade of seconds here. */
const SCENARIO_TIMEOUT_MS = 90_000;
/** In the webhooks' paths, as chat tools put their tokens there: it must appear in no history, note or error. */
const TOKEN = 'T0KEN-s3cr3t';
/** Longer than the stand-in upgrade takes to end once its last notification is sent. */
const SLOW_ANSWER_MS = 1_500;
/** What the rate-limited webhook asks to wait: longer than the delivery's own first retry (1 s). */
const RETRY_AFTER_SECONDS = 3;
const SECRET = standardWebhooksSecret('notifications');

/** A webhook receiver on a free port: what it was posted, in order. */
interface Receiver {
  url: string;
  /** Each post as it came: headers and raw body. */
  received: WebhookPost[];
  posts: UpgradeNotification[];
  /** The events posted about `environment`, in the order they arrived. */
  events(environment: string): UpgradeEvent[];
  close(): Promise<void>;
}

/** A receiver that answers each post as `answer` says, and records a post when it answers. */
async function startReceiver(answer: (index: number) => WebhookAnswer): Promise<Receiver> {
  const receiver = await startWebhookReceiver(TOKEN, (post, index) => {
    expect(post.path).toBe(`POST /hooks/${TOKEN}`);
    expect(post.headers['content-type']).toBe('application/json');
    return answer(index);
  });
  const posts = () => receiver.posts.map((post) => JSON.parse(post.body) as UpgradeNotification);
  return {
    url: receiver.url,
    received: receiver.posts,
    get posts() {
      return posts();
    },
    events: (environment) =>
      posts()
        .filter((post) => post.environment === environment)
        .map((post) => post.event),
    close: receiver.close,
  };
}

/**
 * The workflow's notifications on the real dev server, delivered by the real `notify` activity to real HTTP receivers
 * (the other activities are stand-ins): what each kind of upgrade posts, in order, and that a webhook that is down
 * changes nothing of an upgrade's outcome.
 */
describe('webhook notifications', () => {
  let bench: StandInServer;
  let receiver: Receiver;
  let failing: Receiver;
  let slow: Receiver;
  let limited: Receiver;
  let notify: ReturnType<typeof createNotifyActivities>['notify'];
  let deadUrl: string;

  beforeAll(async () => {
    bench = await startStandInServer();
    receiver = await startReceiver(() => ({ status: 200 }));
    failing = await startReceiver(() => ({ status: 500 }));
    slow = await startReceiver(() => ({ status: 200, delayMs: SLOW_ANSWER_MS }));
    limited = await startReceiver((index) =>
      index === 0 ? { status: 429, headers: { 'retry-after': String(RETRY_AFTER_SECONDS) } } : { status: 200 },
    );
    deadUrl = `http://127.0.0.1:${await freePort()}/hooks/${TOKEN}`;
    // The worker's own reading of the settings: one webhook for all, two environments with their own.
    const webhooks = loadWebhooks({
      AEGIS_WEBHOOK_URL: receiver.url,
      AEGIS_WEBHOOK_URL_DEAD_COMPLETED: deadUrl,
      AEGIS_WEBHOOK_URL_DEAD_ROLLED_BACK: deadUrl,
      AEGIS_WEBHOOK_URL_ANSWERS_500: failing.url,
      AEGIS_WEBHOOK_URL_SLOW: slow.url,
      AEGIS_WEBHOOK_URL_RATE_LIMITED: limited.url,
      AEGIS_WEBHOOK_SECRET_RATE_LIMITED: SECRET,
      AEGIS_WEBHOOK_URL_FILTERED: receiver.url,
      AEGIS_WEBHOOK_EVENTS_FILTERED: 'completed',
    });
    notify = createNotifyActivities(webhooks).notify;
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await bench?.close();
    await receiver?.close();
    await failing?.close();
    await slow?.close();
    await limited?.close();
  });

  /** Starts the upgrade of `environment`, its webhooks posted by the real `notify`. */
  const start = (environment: string, request: UpgradeRequest, scenario: StandInScenario = {}) =>
    bench.start(`aegis-upgrade-${environment}`, request, { ...scenario, overrides: { notify } });

  const last = (environment: string) => receiver.posts.filter((post) => post.environment === environment).at(-1);

  test(
    'completed: started, then completed with the versions, the backup and the command to see more',
    async () => {
      const handle = await start('completed', { targetVersion: '1.3.0' });
      const report: UpgradeReport = await handle.result();

      expect(report.phase).toBe('completed');
      // The upgrade ended after its notifications were delivered.
      expect(receiver.events('completed')).toEqual(['started', 'completed']);
      expect(last('completed')).toEqual({
        event: 'completed',
        environment: 'completed',
        workflowId: 'aegis-upgrade-completed',
        fromVersion: '1.2.0',
        toVersion: '1.3.0',
        at: expect.any(String),
        backup: report.backup?.location,
        command: 'aegis-upgrade status --env completed',
        text: expect.stringContaining('AEGIS upgrade of completed completed: 1.2.0 → 1.3.0.'),
      });
      expect(report.backup?.location).toMatch(/^\/var\/backups\/aegis\//);
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    'the upgrade ends once its last notification is delivered: a slow webhook is waited for',
    async () => {
      const handle = await start('slow', { targetVersion: '1.3.0' });

      expect(((await handle.result()) as UpgradeReport).phase).toBe('completed');
      expect(slow.events('slow')).toEqual(['started', 'completed']);
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    'signed, and retried when the webhook asks: the same delivery ID, after the Retry-After it gave',
    async () => {
      const handle = await start('rate-limited', { targetVersion: '1.3.0' });
      const report: UpgradeReport = await handle.result();

      expect(report.phase).toBe('completed');
      expect(limited.events('rate-limited')).toEqual(['started', 'started', 'completed']);
      const [first, retry, last] = limited.received;
      expect(retry?.headers['webhook-id']).toBe(first?.headers['webhook-id']);
      expect(last?.headers['webhook-id']).not.toBe(first?.headers['webhook-id']);
      expect((retry?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(RETRY_AFTER_SECONDS * 1000);
      expect(limited.received.map((post) => signedWith(SECRET, post))).toEqual([true, true, true]);
      // Delivered in the end: the progress notes nothing undelivered.
      expect((await handle.query(progressQuery)).notes).toBeUndefined();
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    'a webhook that takes only some events is told of those only',
    async () => {
      const handle = await start('filtered', { targetVersion: '1.3.0' });

      expect(((await handle.result()) as UpgradeReport).phase).toBe('completed');
      expect(receiver.events('filtered')).toEqual(['completed']);
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    'rolled-back: started, then rolled-back with the cause, what was rolled back and the backup',
    async () => {
      const handle = await start(
        'rolled-back',
        { targetVersion: '1.3.0' },
        { fail: [{ activity: 'awaitMigrations', type: 'MigrationFailed', message: 'migration 2 failed' }] },
      );
      const failure = await upgradeFailure(handle.result());

      expect(failure.type).toBe(UpgradeFailureType.UpgradeRolledBack);
      expect(receiver.events('rolled-back')).toEqual(['started', 'rolled-back']);
      const notification = last('rolled-back');
      expect(notification).toMatchObject({
        workflowId: 'aegis-upgrade-rolled-back',
        fromVersion: '1.2.0',
        toVersion: '1.3.0',
        cause: { step: 'migrations', message: 'migration 2 failed' },
        backup: failure.report.backup?.location,
        command: 'aegis-upgrade status --env rolled-back',
      });
      expect(notification?.rolledBack).toEqual(failure.report.rollback.map((step) => step.title));
      expect(notification?.rolledBack).toContain('Set AEGIS_IMAGE_TAG back to 1.2.0');
      expect(notification?.text).toContain('migrations failed: migration 2 failed.');
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    'waiting-for-approval: posted while the upgrade waits, with the command that approves; completed once approved',
    async () => {
      const handle = await start('approval', { targetVersion: '1.3.0', approveBefore: ['core'] });
      await until(() => receiver.events('approval').includes('waiting-for-approval'));

      expect((await handle.query(progressQuery)).phase).toBe('waiting-for-approval');
      expect(last('approval')).toMatchObject({
        event: 'waiting-for-approval',
        approval: { pod: 'core', timeout: '24 hours', command: 'aegis-upgrade approve --env approval --pod core' },
      });
      expect(last('approval')?.text).toContain('Approve: aegis-upgrade approve --env approval --pod core');
      await handle.signal(approveSignal);
      const report: UpgradeReport = await handle.result();

      expect(report.phase).toBe('completed');
      expect(receiver.events('approval')).toEqual(['started', 'waiting-for-approval', 'completed']);
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    "cancelled: the rollback an operator's cancel caused is posted all the same",
    async () => {
      const handle = await start('cancelled', { targetVersion: '1.3.0' }, { hold: 'redeployPod:core' });
      await until(() => bench.standIn.holding(handle.workflowId));
      await handle.cancel();
      const failure = await upgradeFailure(handle.result());

      expect(failure.type).toBe(UpgradeFailureType.UpgradeRolledBack);
      expect(receiver.events('cancelled')).toEqual(['started', 'rolled-back']);
      expect(last('cancelled')?.cause?.message).toContain('cancelled by an operator');
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    "refused: pre-flight's refusal is posted with its reason; nothing else",
    async () => {
      const handle = await start('refused', { targetVersion: '1.3.0' }, { refuse: 'Images missing from the registry' });

      expect((await upgradeFailure(handle.result())).type).toBe(UpgradeFailureType.PreflightFailed);
      expect(receiver.events('refused')).toEqual(['refused']);
      expect(last('refused')?.cause).toEqual({ step: 'preflight', message: 'Images missing from the registry' });
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    'a request that does not parse is refused at once and posts nothing',
    async () => {
      const handle = await start('bad-request', { targetVersion: '1.3.0; rm -rf /' });

      expect((await upgradeFailure(handle.result())).type).toBe(UpgradeFailureType.PreflightFailed);
      expect(receiver.events('bad-request')).toEqual([]);
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    'a dry run posts nothing',
    async () => {
      const handle = await start('dry-run', { targetVersion: '1.3.0', dryRun: true });

      expect(((await handle.result()) as UpgradeReport).phase).toBe('planned');
      expect(receiver.events('dry-run')).toEqual([]);
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    'a dry run that pre-flight refuses posts nothing either, under the ID the CLI gives it',
    async () => {
      const workflowId = planWorkflowId('dry-refused', Date.now());
      const handle = await bench.start(
        workflowId,
        { targetVersion: '1.3.0', dryRun: true },
        { refuse: 'Images missing from the registry', overrides: { notify } },
      );

      expect((await upgradeFailure(handle.result())).report.phase).toBe('refused');
      expect(receiver.posts.filter((post) => post.workflowId === workflowId)).toEqual([]);
    },
    SCENARIO_TIMEOUT_MS,
  );

  describe('a webhook that is down changes nothing of the outcome', () => {
    test(
      'nothing listening: the upgrade completes; the progress notes what was not delivered, without the token',
      async () => {
        const handle = await start('dead-completed', { targetVersion: '1.3.0' });
        const report: UpgradeReport = await handle.result();

        expect(report.phase).toBe('completed');
        const { notes } = await handle.query(progressQuery);
        expect(notes).toEqual([
          expect.stringMatching(/^The started notification was not delivered: Webhook http:\/\/127\.0\.0\.1:\d+\/… /),
          expect.stringMatching(/^The completed notification was not delivered: Webhook http:\/\/127\.0\.0\.1:\d+\/… /),
        ]);
        expect(JSON.stringify(await handle.fetchHistory())).not.toContain(TOKEN);
      },
      SCENARIO_TIMEOUT_MS,
    );

    test(
      'nothing listening: a failed upgrade rolls back as it would, with the same cause',
      async () => {
        const handle = await start(
          'dead-rolled-back',
          { targetVersion: '1.3.0' },
          { fail: [{ activity: 'validatePlatform', type: 'ValidationFailed', message: 'make validate failed' }] },
        );
        const failure = await upgradeFailure(handle.result());

        expect(failure.type).toBe(UpgradeFailureType.UpgradeRolledBack);
        expect(failure.report.cause).toEqual({ step: 'validate', message: 'make validate failed' });
        expect(failure.report.phase).toBe('rolled-back');
        expect(JSON.stringify(await handle.fetchHistory())).not.toContain(TOKEN);
      },
      SCENARIO_TIMEOUT_MS,
    );

    test(
      'answering 500: the upgrade completes after each notification was tried three times, in order',
      async () => {
        const handle = await start('answers-500', { targetVersion: '1.3.0' });
        const report: UpgradeReport = await handle.result();

        expect(report.phase).toBe('completed');
        // Bounded: three attempts per notification, the next one started once the one before gave up.
        expect(failing.events('answers-500')).toEqual([
          'started',
          'started',
          'started',
          'completed',
          'completed',
          'completed',
        ]);
      },
      SCENARIO_TIMEOUT_MS,
    );
  });
});

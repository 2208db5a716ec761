import type { Worker } from '@temporalio/worker';
import { execa } from 'execa';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createNotifyActivities } from '../../src/activities/notify';
import { ExitCode } from '../../src/cli/errors';
import type { HistoryEntry } from '../../src/cli/upgrades';
import { loadWebhooks } from '../../src/config/webhooks';
import { taskQueueFor } from '../../src/core/environments';
import type { UpgradeNotification } from '../../src/core/notifications';
import { progressQuery, type UpgradeReport } from '../../src/core/upgrade';
import { REPO_ROOT } from '../helpers/repo';
import { startStandInServer, until, type StandInServer } from '../helpers/stand-in-activities';
import { freePort } from '../helpers/temporal-server';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver';

const CLI = path.join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
const SETUP_TIMEOUT_MS = 2 * 60_000;
const SCENARIO_TIMEOUT_MS = 90_000;
const TOKEN = 'conventions-token';
// eslint-disable-next-line no-control-regex -- an escape sequence is what must not be there
const ESCAPE = /\u001b\[/;

interface Run {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
}

/**
 * The conventions of the `temporal` CLI (issue 23, item 6), the built CLI run as a process against a dev server
 * whose worker runs the real workflows on stand-in activities, and the real `notify` to a real HTTP receiver: the
 * global options on subcommands, `-o json` everywhere in one shape per object, `--color`, and who approved or aborted.
 */
describe('the conventions of temporal', () => {
  let bench: StandInServer;
  let receiver: WebhookReceiver;
  let home: string;
  /** Where TEMPORAL_ADDRESS points: nothing listens, so only `--address` reaches the server. */
  let closedPort: number;
  const workers: { worker: Worker; running: Promise<void> }[] = [];
  let notify: ReturnType<typeof createNotifyActivities>['notify'];

  /** `aegis-upgrade <args>`, the server given by `--address` only (TEMPORAL_ADDRESS is a closed port). */
  const aegisUpgrade = async (args: string[]): Promise<Run> => {
    const result = await execa(process.execPath, [CLI, ...args, '--address', bench.server.address], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: home,
        TEMPORAL_ADDRESS: `127.0.0.1:${closedPort}`,
        AEGIS_TASK_QUEUE: bench.taskQueue,
      },
      extendEnv: false,
      reject: false,
    });
    return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr };
  };
  const json = <T>(run: Run): T => {
    expect({ exitCode: run.exitCode, stderr: run.stderr }).toEqual({ exitCode: 0, stderr: '' });
    return JSON.parse(run.stdout) as T;
  };
  const posted = (environment: string) =>
    receiver.posts
      .map((post) => JSON.parse(post.body) as UpgradeNotification)
      .filter((post) => post.environment === environment);

  /** A worker for `environment`'s queue, its upgrades told to the receiver; `hold` keeps one activity waiting. */
  const serve = async (environment: string, hold?: string) => {
    bench.standIn.scenario(`aegis-upgrade-${environment}`, { ...(hold && { hold }), overrides: { notify } });
    const worker = await bench.createWorker(taskQueueFor(environment, bench.taskQueue));
    workers.push({ worker, running: worker.run() });
  };

  beforeAll(async () => {
    await fs.access(CLI).catch((error: unknown) => {
      throw new Error(`${CLI} is missing: run \`npm run build\` (npm test does it first)`, { cause: error });
    });
    home = await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-upgrade-conventions-'));
    closedPort = await freePort();
    bench = await startStandInServer();
    receiver = await startWebhookReceiver(TOKEN);
    notify = createNotifyActivities(loadWebhooks({ AEGIS_WEBHOOK_URL: receiver.url })).notify;
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    for (const { worker } of workers) worker.shutdown();
    await Promise.all(workers.map(({ running }) => running));
    await bench?.close();
    await receiver?.close();
    if (home) await fs.rm(home, { recursive: true, force: true });
  });

  test(
    'start, status, approve and history with -n and -o json after the command; the approval names who and why everywhere',
    async () => {
      await serve('gated');
      const started = json<Record<string, string>>(
        await aegisUpgrade([
          'start',
          '1.3.0',
          '--env',
          'gated',
          '--approve-before',
          'core',
          '-n',
          'default',
          '-o',
          'json',
        ]),
      );
      expect(started).toEqual({
        workflowId: 'aegis-upgrade-gated',
        runId: expect.any(String),
        environment: 'gated',
        toVersion: '1.3.0',
      });
      const handle = bench.client.workflow.getHandle('aegis-upgrade-gated');
      await until(async () => (await handle.query(progressQuery)).phase === 'waiting-for-approval');

      const waiting = json<Record<string, unknown>>(await aegisUpgrade(['status', '--env', 'gated', '-o', 'json']));
      expect(waiting).toMatchObject({
        workflowId: 'aegis-upgrade-gated',
        runId: started.runId,
        environment: 'gated',
        phase: 'waiting-for-approval',
        startedBy: 'hand',
        steps: expect.any(Array),
      });

      const approved = await aegisUpgrade([
        'approve',
        '--env',
        'gated',
        '--by',
        'ana@ops-1',
        '--reason',
        'canary fine',
        '--namespace',
        'default',
        '--output',
        'json',
      ]);
      expect(json(approved)).toEqual({
        workflowId: 'aegis-upgrade-gated',
        environment: 'gated',
        pod: 'core',
        by: 'ana@ops-1',
        reason: 'canary fine',
      });
      const report: UpgradeReport = await handle.result();
      expect(report.phase).toBe('completed');
      // The server's own record of who sent the signal: the user at the host, not the SDK's pid@host.
      const signals = (await handle.fetchHistory()).events?.flatMap(
        (event) => event.workflowExecutionSignaledEventAttributes ?? [],
      );
      expect(signals?.map((signal) => signal.identity)).toEqual([`${os.userInfo().username}@${os.hostname()}`]);
      const approval = { pod: 'core', by: 'ana@ops-1', reason: 'canary fine', at: expect.any(String) };
      expect(report.approvals).toEqual([approval]);

      const status = json<Record<string, unknown>>(await aegisUpgrade(['status', '--env', 'gated', '-o', 'json']));
      expect(status).toMatchObject({ phase: 'completed', approvals: [approval] });
      const text = await aegisUpgrade(['status', '--env', 'gated', '--color', 'never']);
      expect(text.stdout).toMatch(/^Approved before core by ana@ops-1: canary fine \(\d{4}-\d\d-\d\dT.*Z\)$/m);

      // The run in one shape: what status and history both print of it is the same.
      const [entry] = json<HistoryEntry[]>(await aegisUpgrade(['history', '--env', 'gated', '-o', 'json']));
      const runFields = ['workflowId', 'runId', 'environment', 'fromVersion', 'toVersion', 'phase', 'startedAt'];
      const timing = ['endedAt', 'durationMs', 'startedBy'];
      const pick = (object: object, keys: string[]) =>
        Object.fromEntries(Object.entries(object).filter(([key]) => keys.includes(key)));
      expect(pick(entry ?? {}, [...runFields, ...timing])).toEqual(pick(status, [...runFields, ...timing]));
      expect(entry).toMatchObject({ durationMs: expect.any(Number), approvals: [approval] });
      const history = await aegisUpgrade(['history', '--env', 'gated']);
      expect(history.stdout).toContain('aegis-upgrade-gated (');
      expect(history.stdout).toContain('approved before core by ana@ops-1: canary fine');

      // The webhook was told: the completed message names who approved, in its JSON and its text.
      const completed = posted('gated').find((post) => post.event === 'completed');
      expect(completed?.approvals).toEqual([approval]);
      expect(completed?.text).toContain('Approved before core by ana@ops-1: canary fine');
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    'abort with --by and --reason and -o json: recorded in the report, status, history and the rolled-back message',
    async () => {
      await serve('aborted', 'redeployPod:core');
      expect((await aegisUpgrade(['start', '1.3.0', '--env', 'aborted'])).exitCode).toBe(0);
      await until(() => bench.standIn.holding('aegis-upgrade-aborted'));

      const aborted = await aegisUpgrade([
        'abort',
        '--env',
        'aborted',
        '--by',
        'bo@ops-2',
        '--reason',
        'error rate up',
        '-o',
        'json',
      ]);
      expect(json(aborted)).toEqual({
        workflowId: 'aegis-upgrade-aborted',
        environment: 'aborted',
        by: 'bo@ops-2',
        reason: 'error rate up',
      });
      const report = await bench.client.workflow
        .getHandle('aegis-upgrade-aborted')
        .result()
        .then(
          () => undefined,
          (error: { cause?: { details?: unknown[] } }) => error.cause?.details?.[0] as UpgradeReport,
        );
      expect(report).toMatchObject({
        phase: 'rolled-back',
        aborted: { by: 'bo@ops-2', reason: 'error rate up' },
        cause: { message: 'the upgrade was cancelled by bo@ops-2: error rate up' },
      });

      const status = await aegisUpgrade(['status', '--env', 'aborted']);
      expect(status.exitCode).toBe(ExitCode.Failed);
      expect(status.stdout).toContain('the upgrade was cancelled by bo@ops-2: error rate up');
      const [entry] = JSON.parse(
        (await aegisUpgrade(['history', '--env', 'aborted', '--json'])).stdout,
      ) as HistoryEntry[];
      expect(entry).toMatchObject({ phase: 'rolled-back', aborted: { by: 'bo@ops-2', reason: 'error rate up' } });
      const rolledBack = posted('aborted').find((post) => post.event === 'rolled-back');
      expect(rolledBack?.text).toContain('the upgrade was cancelled by bo@ops-2: error rate up');
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    'start --follow -o json: the live lines on stderr, one document on stdout once it ended, the shape of status',
    async () => {
      await serve('followed');
      const followed = await aegisUpgrade(['start', '1.3.0', '--env', 'followed', '--follow', '-o', 'json']);
      expect(followed.exitCode).toBe(ExitCode.Done);
      expect(followed.stderr).toMatch(/^ {2}✓ /m);
      const ended = JSON.parse(followed.stdout) as Record<string, unknown>;
      expect(ended).toMatchObject({
        workflowId: 'aegis-upgrade-followed',
        environment: 'followed',
        phase: 'completed',
        durationMs: expect.any(Number),
        steps: expect.any(Array),
      });
      const status = json<Record<string, unknown>>(await aegisUpgrade(['status', '--env', 'followed', '-o', 'json']));
      expect(Object.keys(ended).sort()).toEqual(Object.keys(status).sort());
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    'schedule list takes -n and -o json after its name; another namespace is asked when named',
    async () => {
      expect(json(await aegisUpgrade(['schedule', 'list', '-n', 'default', '-o', 'json']))).toEqual([]);
      const elsewhere = await aegisUpgrade(['schedule', 'list', '-n', 'no-such-namespace', '-o', 'json']);
      expect(elsewhere.exitCode).toBe(ExitCode.Usage);
      expect(elsewhere.stderr).toMatch(/^aegis-upgrade: .*no-such-namespace/);
      // Before the command name too, as `temporal -n x workflow list` takes it.
      const before = await execa(
        process.execPath,
        [CLI, '--address', bench.server.address, '-o', 'json', 'schedule', 'list'],
        { env: { PATH: process.env.PATH ?? '', HOME: home }, extendEnv: false, reject: false },
      );
      expect(JSON.parse(before.stdout)).toEqual([]);
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    'a --by or --reason the workflow would refuse is refused before the server is asked: exit 2, one line',
    async () => {
      for (const args of [
        ['approve', '--reason', ''],
        ['abort', '--by', 'x'.repeat(501)],
        ['fleet', 'approve', '--reason', 'two\nlines'],
      ]) {
        const run = await execa(process.execPath, [CLI, ...args], {
          env: { PATH: process.env.PATH ?? '', HOME: home, TEMPORAL_ADDRESS: `127.0.0.1:${closedPort}` },
          extendEnv: false,
          reject: false,
        });
        expect({ exitCode: run.exitCode, stdout: run.stdout }).toEqual({ exitCode: ExitCode.Usage, stdout: '' });
        expect(run.stderr).toMatch(/^aegis-upgrade: Nothing was sent: expected `(reason|by)` to be one line of text/);
      }
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    '--color never prints no escape code, --color always colours even a pipe',
    async () => {
      const never = await aegisUpgrade(['history', '--env', 'gated', '--color', 'never']);
      expect(never.exitCode).toBe(0);
      expect(never.stdout).toContain('completed');
      expect(never.stdout).not.toMatch(ESCAPE);
      const always = await aegisUpgrade(['history', '--env', 'aborted', '--color', 'always']);
      expect(always.stdout).toContain('\u001b[33mrolled-back\u001b[39m');
    },
    SCENARIO_TIMEOUT_MS,
  );
});

import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { execa } from 'execa';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { UPGRADE_WORKFLOW_TYPE, UpgradeFailureType, type UpgradeReport } from '../../src/core/upgrade';
import { BAD_REQUESTS } from '../helpers/bad-requests';
import { upgradeFailure } from '../helpers/platform';
import { startDevServer, temporalCliBinary, type DevServer } from '../helpers/temporal-server';
import { startWorker, type WorkerProcess } from '../helpers/worker-process';

const CHECKOUT = new Map([
  ['Makefile', 'redeploy:\n'],
  ['.env', 'AEGIS_IMAGE_TAG=1.2.0\n'],
]);

const SETUP_TIMEOUT_MS = 2 * 60_000;
/** A refusal takes one workflow task: well under a second each, even all at once. */
const REFUSAL_WITHIN_MS = 10_000;
/** Starting them all, through one CLI process each, and collecting their ends. */
const ALL_WITHIN_MS = 30_000;

type HistoryEvent = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>[number];

/** What became of one bad request started through the `temporal` CLI. */
interface Outcome {
  started: { exitCode?: number; output: string };
  failure?: { type: string; message: string; report: UpgradeReport };
  /** Why no failure was read: the upgrade completed, or did not end in time. */
  error?: string;
  status?: string;
  closedAfterMs?: number;
  events: HistoryEvent[];
}

/**
 * Every bad request, started with `temporal workflow start` on a real dev server and run by a real worker on a
 * deployment directory that is empty: each must end FAILED with PreflightFailed in one workflow task, having
 * scheduled no activity at all (any activity would touch the missing deployment).
 */
describe('bad upgrade requests are refused before anything is scheduled', () => {
  const cases = [
    ...BAD_REQUESTS.map((bad) => ({ name: bad.name, input: JSON.stringify(bad.request), says: bad.says })),
    { name: 'no input at all', input: undefined, says: ['got `undefined`'] },
  ];
  const outcomes = new Map<string, Outcome>();
  let server: DevServer | undefined;
  let worker: WorkerProcess | undefined;
  let connection: Connection | undefined;
  let dir: string | undefined;
  let elapsedMs = 0;
  const deployment = () => path.join(dir ?? '', 'deploy');

  beforeAll(async () => {
    const cli = await temporalCliBinary();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-upgrade-bad-requests-'));
    await fs.mkdir(deployment());
    // A deploy checkout as the worker requires at start: its Makefile and .env, which no bad request may touch.
    for (const [file, content] of CHECKOUT) await fs.writeFile(path.join(deployment(), file), content);
    await fs.mkdir(path.join(dir, 'home'));
    server = await startDevServer();
    const taskQueue = `bad-requests-${randomUUID().slice(0, 8)}`;
    worker = await startWorker({
      // This process's TEMPORAL_* variables blanked (a blank one counts as unset): the worker uses this server only.
      ...Object.fromEntries(
        Object.keys(process.env).flatMap((name) => (name.startsWith('TEMPORAL_') ? [[name, '']] : [])),
      ),
      TEMPORAL_ADDRESS: server.address,
      AEGIS_ROOT: deployment(),
      AEGIS_TASK_QUEUE: taskQueue,
    });
    connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection });

    const began = Date.now();
    await Promise.all(
      cases.map(async ({ name, input }, index) => {
        const workflowId = `bad-request-${index}`;
        // No profile file in this HOME: the flags alone say where and what.
        const started = await execa(
          cli,
          [
            'workflow',
            'start',
            ...['--address', server?.address ?? '', '--namespace', 'default'],
            ...['--type', UPGRADE_WORKFLOW_TYPE, '--task-queue', taskQueue, '--workflow-id', workflowId],
            ...(input === undefined ? [] : ['--input', input]),
          ],
          {
            env: { PATH: process.env.PATH ?? '', HOME: path.join(dir ?? '', 'home') },
            extendEnv: false,
            reject: false,
            all: true,
          },
        );
        const outcome: Outcome = { started: { exitCode: started.exitCode, output: started.all }, events: [] };
        outcomes.set(name, outcome);
        if (started.exitCode !== 0) return;
        const handle = client.workflow.getHandle(workflowId);
        outcome.failure = await within(upgradeFailure(handle.result()), REFUSAL_WITHIN_MS).catch(
          (error: Error) => void (outcome.error = error.message),
        );
        const description = await handle.describe();
        outcome.status = description.status.name;
        outcome.closedAfterMs =
          description.closeTime && description.closeTime.getTime() - description.startTime.getTime();
        outcome.events = (await handle.fetchHistory()).events ?? [];
      }),
    );
    elapsedMs = Date.now() - began;
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await worker?.stop();
    await connection?.close();
    await server?.stop();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  test(`at least 40 of them, all refused within ${ALL_WITHIN_MS / 1000} s`, () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
    expect(outcomes.size).toBe(cases.length);
    expect(elapsedMs).toBeLessThan(ALL_WITHIN_MS);
    console.log(`${cases.length} bad requests started through the temporal CLI and refused in ${elapsedMs} ms`);
  });

  test.each(cases.map((bad) => [bad.name, bad] as const))('%s', (name, { says }) => {
    const outcome = outcomes.get(name);
    expect(outcome?.started).toMatchObject({ exitCode: 0 });
    const { failure, error, status, closedAfterMs, events } = outcome as Outcome;

    expect(error).toBeUndefined();
    expect(status).toBe('FAILED');
    expect(closedAfterMs).toBeLessThan(REFUSAL_WITHIN_MS);
    expect(failure?.type).toBe(UpgradeFailureType.PreflightFailed);
    for (const fragment of says) expect(failure?.message).toContain(fragment);
    expect(failure?.report).toMatchObject({
      phase: 'refused',
      steps: [{ id: 'preflight', status: 'failed' }],
      rollback: [],
      images: [],
      migrationsApplied: [],
      databaseRestored: false,
    });
    expect(failure?.report.steps[0]?.detail).toContain(says[0]);

    // Nothing changed: no activity was ever scheduled, no workflow task failed (a plain error would retry for ever).
    expect(events.filter((event) => event.activityTaskScheduledEventAttributes)).toEqual([]);
    expect(events.filter((event) => event.workflowTaskFailedEventAttributes)).toEqual([]);
    const failed = events.find((event) => event.workflowExecutionFailedEventAttributes);
    expect(failed?.workflowExecutionFailedEventAttributes?.failure?.applicationFailureInfo).toMatchObject({
      type: UpgradeFailureType.PreflightFailed,
      nonRetryable: true,
    });
  });

  test('the deployment directory is as it was', async () => {
    expect((await fs.readdir(deployment())).sort()).toEqual([...CHECKOUT.keys()].sort());
    for (const [file, content] of CHECKOUT)
      expect(await fs.readFile(path.join(deployment(), file), 'utf8')).toBe(content);
  });
});

/** `work`, or a rejection once `ms` have passed: a workflow whose task fails runs on for ever. */
async function within<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still running after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

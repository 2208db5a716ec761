import { Client, Connection } from '@temporalio/client';
import { execa } from 'execa';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { UpgradeReport } from '../../src/core/upgrade';
import { REPO_ROOT } from '../helpers/repo';
import { freePort, startDevServer, type DevServer } from '../helpers/temporal-server';
import { WORKER_READY_LINE, startWorker, type WorkerProcess } from '../helpers/worker-process';

const SERVER_LATE_MS = 60_000;
const TEST_TIMEOUT_MS = SERVER_LATE_MS + 2 * 60_000;
const CLI = path.join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
const WORKER = path.join(REPO_ROOT, 'dist', 'src', 'worker.js');
const BUNDLE = path.join(REPO_ROOT, 'dist', 'src', 'workflow-bundle.js');

/** This process's TEMPORAL_* variables blanked (a blank one counts as unset): the worker uses the address given only. */
const noTemporalVariables = () =>
  Object.fromEntries(Object.keys(process.env).flatMap((name) => (name.startsWith('TEMPORAL_') ? [[name, '']] : [])));

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function until(what: string, condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * After a reboot the worker may come up before its Temporal server. Here the built worker (as the service runs it)
 * starts on a port where nothing listens; the real dev server comes up there 60 s later. The same process connects,
 * loads the prebuilt workflow bundle and answers a plan: no restart. No sandbox: the plan is refused at pre-flight.
 */
describe('the worker started before its Temporal server', () => {
  let dir: string;
  let root: string;
  let server: DevServer | undefined;
  let worker: WorkerProcess | undefined;
  let connection: Connection | undefined;

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-upgrade-late-server-'));
    root = path.join(dir, 'deploy');
    await fs.mkdir(path.join(root, 'profiles'), { recursive: true });
    await fs.writeFile(path.join(root, 'profiles', 'development.conf'), 'PODS="core"\n');
    await fs.writeFile(path.join(root, 'Makefile'), 'redeploy:\n');
    await fs.writeFile(path.join(root, '.env'), 'AEGIS_IMAGE_TAG=1.2.0\n');
  });

  afterAll(async () => {
    await connection?.close();
    await worker?.kill();
    await server?.stop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  test(
    'waits for it, retrying with one line per attempt, then connects and serves without a restart',
    async () => {
      const port = await freePort();
      const address = `127.0.0.1:${port}`;
      const taskQueue = `late-server-${randomUUID().slice(0, 8)}`;
      const started = Date.now();
      worker = await startWorker(
        { ...noTemporalVariables(), TEMPORAL_ADDRESS: address, AEGIS_ROOT: root, AEGIS_TASK_QUEUE: taskQueue },
        undefined,
        { until: `Cannot reach the Temporal server at ${address}` },
      );
      const { pid } = worker;
      await new Promise((resolve) => setTimeout(resolve, SERVER_LATE_MS - (Date.now() - started)));
      expect(isAlive(pid)).toBe(true);
      expect(worker.output()).not.toContain(WORKER_READY_LINE);

      server = await startDevServer({ port });
      const current = worker;
      await until('the worker to poll', () => current.output().includes(WORKER_READY_LINE), 60_000);
      expect(isAlive(pid)).toBe(true);

      const lines = worker.output().trimEnd().split('\n');
      const retries = lines.filter((line) => line.includes(`Cannot reach the Temporal server at ${address}`));
      // 1, 2, 4, 8 s, then every 10 s: some ten attempts in 60 s, each one line saying when the next comes.
      expect(retries.length).toBeGreaterThanOrEqual(8);
      retries.forEach((line, index) => expect(line).toContain(`; attempt ${index + 1}, trying again in `));
      expect(lines.filter((line) => line.includes(`connected to ${address}`))).toEqual([
        expect.stringContaining(`at attempt ${retries.length + 1}`),
      ]);
      // The workflows come from the build's bundle: no webpack at start, and no line of several KB.
      expect(lines.find((line) => line.includes('aegis-upgrade worker: task queue'))).toContain(
        `; workflows from the prebuilt workflow bundle ${BUNDLE}`,
      );
      expect(lines.filter((line) => line.length > 1_000)).toEqual([]);
      expect(worker.output()).not.toContain('bundling the workflows');

      // The start-up line comes just before the first poll: the server sees the poller a moment later.
      connection = await Connection.connect({ address });
      const client = new Client({ connection });
      const pollers = async () =>
        (await client.workflowService.describeTaskQueue({ namespace: 'default', taskQueue: { name: taskQueue } }))
          .pollers.length;
      const deadline = Date.now() + 15_000;
      while ((await pollers()) === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 250));
      expect(await pollers()).toBeGreaterThan(0);

      // An upgrade's workflow and its pre-flight activity, run by this worker: the pod is not in the profile.
      const plan = await execa(process.execPath, [CLI, 'plan', '1.3.0', '--pods', 'database', '--json'], {
        env: { ...noTemporalVariables(), TEMPORAL_ADDRESS: address, AEGIS_TASK_QUEUE: taskQueue },
        reject: false,
      });
      const report = JSON.parse(plan.stdout) as UpgradeReport;
      expect(report.phase).toBe('refused');
      // The worker's pre-flight read its checkout (a bare one: pod core alone, no pod file) and refused it.
      expect(report.steps[0]?.detail).toContain('Profile development: pods core; no definition for core');
      expect(isAlive(pid)).toBe(true);
    },
    TEST_TIMEOUT_MS,
  );

  test('a configuration error still stops it at once, in one line, whether the server is up or not', async () => {
    await fs.rm(path.join(root, '.env'));
    try {
      const began = Date.now();
      const result = await execa(process.execPath, [WORKER], {
        env: { ...noTemporalVariables(), TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`, AEGIS_ROOT: root },
        reject: false,
        all: true,
      });
      expect(Date.now() - began).toBeLessThan(10_000);
      expect({ exitCode: result.exitCode, output: result.all }).toEqual({
        exitCode: 1,
        output:
          `aegis-upgrade worker: AEGIS_ROOT ${root} has no .env: ` +
          'set AEGIS_ROOT to the deploy checkout the operator runs `make` in',
      });
    } finally {
      await fs.writeFile(path.join(root, '.env'), 'AEGIS_IMAGE_TAG=1.2.0\n');
    }
  });
});

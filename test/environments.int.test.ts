import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { guardEnvironment } from '../src/host/environment-guard';
import { lockHistoryPath, readLock } from '../src/host/lock-file';
import * as commands from '../src/cli/commands';
import { knownEnvironments } from '../src/cli/environments';
import { taskQueueFor } from '../src/core/environments';
import { UPGRADE_WORKFLOW_TYPE, UpgradeFailureType, upgradeWorkflowId, type UpgradeReport } from '../src/core/upgrade';
import { upgradeFailure, waitFor } from './helpers/platform';
import { standInActivities, type StandIns } from './helpers/stand-in-activities';
import { REPO_ROOT } from './helpers/repo';
import { startDevServer, type DevServer } from './helpers/temporal-server';
import { telemetrySinks } from '../src/worker/telemetry';

const SETUP_TIMEOUT_MS = 2 * 60_000;
const TEST_TIMEOUT_MS = 60_000;

/** One environment: its deploy checkout (the real lock is taken there), its stand-in platform, its worker. */
interface Deployment {
  environment: string;
  root: string;
  standIn: StandIns;
  worker: Worker;
  running: Promise<void>;
}

/**
 * Two environments, staging and production, each with its own deployment and its own worker (the guarded stand-in
 * activities, the real lock on a checkout of its own), on the real Temporal dev server; the CLI as an operator runs it.
 */
describe('environments: one deployment, one worker each', () => {
  let server: DevServer;
  let connection: Connection;
  let native: NativeConnection;
  let client: Client;
  /** `AEGIS_TASK_QUEUE`, of this file only: staging's queue is `<it>-staging`. */
  const defaultQueue = `environments-${randomUUID().slice(0, 8)}`;
  const deployments: Record<string, Deployment> = {};
  const savedEnv = { ...process.env };

  const startDeployment = async (environment: string): Promise<Deployment> => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), `aegis-${environment}-`));
    await fs.writeFile(path.join(root, '.env'), `AEGIS_IMAGE_TAG=1.2.0\nAEGIS_ENVIRONMENT=${environment}\n`);
    const standIn = standInActivities(new Map(), { lockRoot: root });
    const worker = await Worker.create({
      connection: native,
      taskQueue: taskQueueFor(environment, defaultQueue),
      workflowsPath: require.resolve(`${REPO_ROOT}/src/workflows`),
      sinks: telemetrySinks(),
      activities: guardEnvironment(standIn.activities, {
        environment,
        root,
        deploymentEnvironment: () => Promise.resolve(environment),
      }),
    });
    return { environment, root, standIn, worker, running: worker.run() };
  };

  beforeAll(async () => {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
    server = await startDevServer();
    connection = await Connection.connect({ address: server.address });
    native = await NativeConnection.connect({ address: server.address });
    client = new Client({ connection });
    for (const environment of ['staging', 'production']) deployments[environment] = await startDeployment(environment);
    // The CLI reads its settings from the environment, as an operator's shell gives them; no profile file.
    for (const name of Object.keys(process.env)) if (name.startsWith('TEMPORAL_')) delete process.env[name];
    Object.assign(process.env, {
      TEMPORAL_ADDRESS: server.address,
      AEGIS_TASK_QUEUE: defaultQueue,
      XDG_CONFIG_HOME: deployments.staging?.root,
    });
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    process.env = savedEnv;
    for (const deployment of Object.values(deployments)) {
      deployment.worker.shutdown();
      await deployment.running;
      await fs.rm(deployment.root, { recursive: true, force: true });
    }
    await native?.close();
    await connection?.close();
    await server?.stop();
  });

  const the = (environment: string): Deployment => {
    const deployment = deployments[environment];
    if (!deployment) throw new Error(`no deployment ${environment}`);
    return deployment;
  };

  /** `aegis-upgrade <command>` in this process, its output kept out of the test's. */
  const cli = async (run: () => Promise<number>): Promise<{ exitCode: number; printed: string }> => {
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      const exitCode = await run();
      return { exitCode, printed: log.mock.calls.map((call) => call.join(' ')).join('\n') };
    } finally {
      log.mockRestore();
    }
  };

  test(
    "start --env staging runs on staging's worker and deployment only",
    async () => {
      const started = await cli(() => commands.start('1.3.0', { env: 'staging' }));
      expect(started).toEqual({ exitCode: 0, printed: expect.stringMatching(/^Started aegis-upgrade-staging \(run /) });

      const handle = client.workflow.getHandle(upgradeWorkflowId('staging'));
      const report: UpgradeReport = await handle.result();
      expect(report.phase).toBe('completed');
      expect((await handle.describe()).taskQueue).toBe(`${defaultQueue}-staging`);
      expect(the('staging').standIn.calls(handle.workflowId)).toEqual(
        expect.arrayContaining(['checkPreflight', 'setImageTag', 'redeployPod:core', 'validatePlatform']),
      );
      expect(the('production').standIn.calls(handle.workflowId)).toEqual([]);
      // The lock was taken on staging's checkout and released there; production's was never touched.
      await expect(readLock(the('staging').root)).resolves.toMatchObject({ state: 'free' });
      expect(await fs.readdir(the('production').root)).toEqual(['.env']);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "an upgrade of staging misrouted to production's queue fails at its first activity, changing nothing",
    async () => {
      const workflowId = upgradeWorkflowId('staging');
      const stagingCalls = the('staging').standIn.calls(workflowId);
      const misrouted = await client.workflow.start(UPGRADE_WORKFLOW_TYPE, {
        taskQueue: taskQueueFor('production', defaultQueue),
        workflowId,
        args: [{ targetVersion: '1.3.1' }],
      });
      const failure = await upgradeFailure(misrouted.result());

      expect(failure.type).toBe(UpgradeFailureType.PreflightFailed);
      expect(failure.message).toContain(
        'checkPreflight refused: Workflow `aegis-upgrade-staging` is for environment staging, but this worker serves ' +
          `environment production (deployment ${the('production').root}): the task was routed to the wrong task queue`,
      );
      expect(failure.report.steps.map((step) => [step.id, step.status])).toEqual([['preflight', 'failed']]);
      // No stand-in activity of either deployment ran for it: the guard refused each before it started.
      expect(the('production').standIn.calls(workflowId)).toEqual([]);
      expect(the('staging').standIn.calls(workflowId)).toEqual(stagingCalls);
      expect(await fs.readdir(the('production').root)).toEqual(['.env']);
      await expect(fs.access(lockHistoryPath(the('production').root))).rejects.toThrow();

      const history = await misrouted.fetchHistory();
      const scheduled = (history.events ?? []).flatMap((event) => {
        const name = event.activityTaskScheduledEventAttributes?.activityType?.name;
        return name ? [name] : [];
      });
      // Refused before it took any lock, it releases none, nor reports one left behind. Its refusal's notification
      // goes to the same wrong worker, whose guard refuses it too (no stand-in ran, above): nothing posted.
      expect(scheduled).toEqual(['checkPreflight', 'notify']);
      expect(failure.message).not.toContain('lock');
      const attempts = (history.events ?? []).filter((event) => event.activityTaskStartedEventAttributes);
      expect(attempts.every((event) => event.activityTaskStartedEventAttributes?.attempt === 1)).toBe(true);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'environments lists each environment: version, last upgrade, whether its worker polls',
    async () => {
      expect((await cli(() => commands.start('1.3.0', { env: 'production' }))).exitCode).toBe(0);
      await client.workflow.getHandle(upgradeWorkflowId('production')).result();
      // An environment without a worker: its upgrade, sent all the same, waits on its queue.
      expect((await cli(() => commands.start('1.3.0', { env: 'qa', allowNoWorker: true }))).exitCode).toBe(0);

      // The server's visibility lists a workflow just started a moment later (eventually consistent): CI once listed
      // no qa yet.
      let known: Awaited<ReturnType<typeof knownEnvironments>> = [];
      await waitFor(async () => {
        known = await knownEnvironments(client, defaultQueue);
        return known.some((environment) => environment.name === 'qa' && environment.lastUpgrade);
      }, 30_000);
      const byName = Object.fromEntries(known.map((environment) => [environment.name, environment]));
      expect(byName.staging).toMatchObject({
        version: '1.3.0',
        lastUpgrade: { workflowId: 'aegis-upgrade-staging', phase: 'refused' },
        taskQueue: `${defaultQueue}-staging`,
        workerPolling: true,
      });
      expect(byName.production).toMatchObject({
        version: '1.3.0',
        lastUpgrade: { toVersion: '1.3.0', phase: 'completed' },
        workerPolling: true,
      });
      expect(byName.qa).toMatchObject({ lastUpgrade: { phase: 'running' }, workerPolling: false });
      expect(byName.qa?.version).toBeUndefined();

      const listed = await cli(() => commands.environments({}));
      expect(listed.exitCode).toBe(0);
      expect(listed.printed).toMatch(/^qa\s+\?\s+1\.3\.0 running\s+\S+\s+none\s+environments-\S+-qa$/m);
      expect(listed.printed).toMatch(/^production\s+1\.3\.0\s+1\.3\.0 completed\s+\S+\s+polling\s/m);
      await client.workflow.getHandle(upgradeWorkflowId('qa')).terminate('test cleanup');
    },
    TEST_TIMEOUT_MS,
  );
});

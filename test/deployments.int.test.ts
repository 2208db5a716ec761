import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { type ApplicationFailure } from '@temporalio/common';
import { execa } from 'execa';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readDeployEnv } from '../src/host/env-file';
import { lockHistoryPath } from '../src/host/lock-file';
import { taskQueueFor } from '../src/core/environments';
import { FleetFailureType, fleetWorkflowId, type FleetProgress } from '../src/core/fleet';
import { UPGRADE_WORKFLOW_TYPE, UpgradeFailureType } from '../src/core/upgrade';
import { deployments, sandboxDeployment, type SandboxDeployment } from './helpers/deployments';
import { faultLine } from './helpers/faults';
import { useLeakCheck } from './helpers/leaks';
import {
  clearServer,
  commandLog,
  dumpRuntimeDatabase,
  imageTag,
  newUpgradeId,
  psql,
  runningImages,
  upgradeFailure,
  waitFor,
} from './helpers/platform';
import { REPO_ROOT } from './helpers/repo';
import { startDevServer, type DevServer } from './helpers/temporal-server';
import { startWorker, type WorkerProcess } from './helpers/worker-process';

const SETUP_TIMEOUT_MS = 20 * 60_000;
const TEST_TIMEOUT_MS = 10 * 60_000;
const ENVIRONMENTS = ['staging', 'prod-a', 'prod-b'] as const;
type Environment = (typeof ENVIRONMENTS)[number];
const RUNTIME = 'aegis-core-aegis-runtime';

/** What a test compares of a deployment before and after: its tag, its containers' images, its runtime's database. */
async function stateOf(deployment: SandboxDeployment) {
  return {
    tag: await imageTag(deployment.root),
    images: await runningImages(deployment.host),
    database: await dumpRuntimeDatabase('aegis', deployment.host),
  };
}

/**
 * Three AEGIS deployments on this machine, each as if on its own host (sandbox/deployments.sh: podman storage, network,
 * PostgreSQL, ports of its own), each with its own worker process as operators run it, on one real Temporal dev server;
 * the operator's CLI. The acceptance of issue 9 on real deployments: routing, misrouting, and fleets in waves.
 */
describe('several deployments on one machine, one worker each', () => {
  let server: DevServer;
  let connection: Connection;
  let client: Client;
  const queue = `deployments-${randomUUID().slice(0, 8)}`;
  const deployed = {} as Record<Environment, SandboxDeployment>;
  const workers: WorkerProcess[] = [];
  let cliEnv: Record<string, string>;
  useLeakCheck(() => ({ client, roots: ENVIRONMENTS.map((environment) => deployed[environment].root) }));

  const cli = (args: string[]) =>
    execa('node', [path.join(REPO_ROOT, 'bin', 'aegis-upgrade.js'), ...args], {
      env: cliEnv,
      reject: false,
      all: true,
    });

  beforeAll(async () => {
    server = await startDevServer();
    connection = await Connection.connect({ address: server.address });
    client = new Client({ connection });
    await deployments('up', ENVIRONMENTS);
    await deployments('reset', ENVIRONMENTS);
    const cleanEnv = Object.fromEntries(
      Object.entries(process.env as Record<string, string>).filter(([name]) => !name.startsWith('TEMPORAL_')),
    );
    const common = { TEMPORAL_ADDRESS: server.address, AEGIS_TASK_QUEUE: queue };
    // No profile file of the machine's user: the CLI reads its settings from the environment only.
    cliEnv = { ...cleanEnv, ...common, XDG_CONFIG_HOME: await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-cli-')) };
    for (const environment of ENVIRONMENTS) {
      const deployment = await sandboxDeployment(environment);
      deployed[environment] = deployment;
      workers.push(
        await startWorker({
          ...cleanEnv,
          ...deployment.env,
          ...common,
          // prod-b's runtime, stopped by the fault, is given up on after 20 s (1.3.0 is ready in about 2).
          AEGIS_READY_TIMEOUT_SECONDS: '20',
          // The deployment's fault shim first, as the fault matrix runs its worker.
          PATH: `${deployment.env.AEGIS_SANDBOX_BIN}:${process.env.PATH ?? ''}`,
        }),
      );
    }
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await clearServer(client);
    await Promise.all(workers.map((worker) => worker.stop()));
    await connection?.close();
    await server?.stop();
    await deployments('down', ENVIRONMENTS);
  }, SETUP_TIMEOUT_MS);

  test(
    "each deployment's pods reach their own database by name, never another deployment's",
    async () => {
      const clusters: string[] = [];
      for (const environment of ENVIRONMENTS) {
        const { host, root } = deployed[environment];
        const own = await psql('select system_identifier from pg_control_system()', 'postgres', host);
        const password = (await readDeployEnv(root)).get('POSTGRES_PASSWORD') ?? '';
        // From the runtime's container, as the runtime connects: `aegis-database`, resolved on its own network.
        const { stdout } = await execa(
          'podman',
          [
            'exec',
            '-e',
            `PGPASSWORD=${password}`,
            RUNTIME,
            'psql',
            '-X',
            '-At',
            '-h',
            'aegis-database',
            '-U',
            'aegis',
            '-d',
            'postgres',
            '-c',
            'select system_identifier from pg_control_system()',
          ],
          { env: host },
        );
        expect(stdout.trim()).toBe(own);
        clusters.push(own);
      }
      expect(new Set(clusters).size).toBe(ENVIRONMENTS.length);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    '`start --env staging` upgrades staging and never touches prod-a; a task misrouted to prod-a changes nothing',
    async () => {
      const { staging, 'prod-a': prodA } = deployed;
      const prodABefore = await stateOf(prodA);

      const started = await cli(['start', '1.3.0', '--env', 'staging', '--follow']);
      expect(started.exitCode).toBe(0);
      expect(await imageTag(staging.root)).toBe('1.3.0');
      expect((await runningImages(staging.host))[RUNTIME]).toMatch(/\/aegis-runtime:1\.3\.0$/);
      expect(await commandLog(staging.env)).toContain('redeploy POD=core AEGIS_IMAGE_TAG=1.3.0');

      const misrouted = await client.workflow.start(UPGRADE_WORKFLOW_TYPE, {
        taskQueue: taskQueueFor('prod-a', queue),
        workflowId: newUpgradeId('staging'),
        args: [{ targetVersion: '1.3.1' }],
      });
      const failure = await upgradeFailure(misrouted.result());
      expect(failure.type).toBe(UpgradeFailureType.PreflightFailed);
      expect(failure.message).toContain(
        'is for environment staging, but this worker serves environment prod-a ' +
          `(deployment ${prodA.root}): the task was routed to the wrong task queue`,
      );

      expect(await stateOf(prodA)).toEqual(prodABefore);
      expect(await commandLog(prodA.env)).toEqual([]);
      await expect(fs.access(lockHistoryPath(prodA.root))).rejects.toThrow();
    },
    TEST_TIMEOUT_MS,
  );

  type FleetStatus = FleetProgress & { failure?: { type: string; message: string } };

  /**
   * Starts a fleet with the CLI and polls `fleet status --json` until it ends: each environment's phases as seen, the
   * fleet's wave when each was first seen upgrading, and the status once the fleet's workflow closed (its progress
   * reads ended a moment before the failure is recorded). `whileRunning` is given each status before.
   */
  async function runFleet(name: string, args: string[], whileRunning?: (status: FleetStatus) => Promise<void>) {
    const started = await cli(['fleet', 'start', '1.3.0', '--name', name, ...args]);
    expect(started.all).toContain(`Started ${fleetWorkflowId(name)}`);
    const seen: Record<string, string[]> = {};
    const upgradedInWave: Record<string, number> = {};
    const readStatus = async (): Promise<FleetStatus> => {
      const status = JSON.parse((await cli(['fleet', 'status', '--name', name, '--json'])).stdout) as FleetStatus;
      for (const entry of status.environments) {
        const phases = (seen[entry.environment] ??= []);
        if (phases.at(-1) !== entry.phase) phases.push(entry.phase);
        if (entry.phase === 'upgrading') upgradedInWave[entry.environment] ??= status.wave;
      }
      return status;
    };
    await waitFor(async () => {
      const status = await readStatus();
      const ended = ['completed', 'stopped', 'rolled-back'].includes(status.phase);
      if (!ended) await whileRunning?.(status);
      return ended;
    }, TEST_TIMEOUT_MS);
    await client.workflow
      .getHandle(fleetWorkflowId(name))
      .result()
      .catch(() => undefined);
    return { seen, upgradedInWave, last: await readStatus() };
  }

  test(
    'a fleet of 3, canary then a wave of 2, each baking 20 s healthy by its real health check, brings all to 1.3.0; `fleet status` shows each phase live',
    async () => {
      await deployments('reset', ENVIRONMENTS);
      const { seen, last } = await runFleet('three', [
        ...['--envs', ENVIRONMENTS.join(','), '--wave-size', '2', '--bake', '20 seconds'],
      ]);

      expect(last.phase).toBe('completed');
      for (const environment of ENVIRONMENTS) {
        expect(seen[environment]).toContain('upgrading');
        // It baked, and after 20 s its worker's real checkHealth found it healthy on 1.3.0 (else it would end failed).
        expect(seen[environment]).toContain('baking');
        expect(seen[environment]?.at(-1)).toBe('completed');
        expect(await imageTag(deployed[environment].root)).toBe('1.3.0');
        expect((await runningImages(deployed[environment].host))[RUNTIME]).toMatch(/\/aegis-runtime:1\.3\.0$/);
      }
      // The canary's wave came first: the wave of two was still pending when it upgraded.
      expect(seen['prod-a']?.[0]).toBe('pending');
      await expect(client.workflow.getHandle(fleetWorkflowId('three')).result()).resolves.toMatchObject({
        phase: 'completed',
      });
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "a wave of prod-a and prod-b baking 30 s, prod-b's runtime stopped meanwhile, roll-back-wave: the bake notices, both back on 1.2.0 and running",
    async () => {
      const { 'prod-a': prodA, 'prod-b': prodB } = deployed;
      await deployments('reset', ['prod-a', 'prod-b']);
      const before = { prodA: await stateOf(prodA), prodB: await stateOf(prodB) };
      let stopped = false;

      const { seen, last } = await runFleet(
        'health-lost',
        [
          ...['--envs', 'prod-a,prod-b', '--canary', '', '--bake', '30 seconds'],
          ...['--on-budget-exceeded', 'roll-back-wave', '--restore-database-on-wave-rollback'],
        ],
        async (status) => {
          const prodBPhase = status.environments.find((entry) => entry.environment === 'prod-b')?.phase;
          if (stopped || prodBPhase !== 'baking') return;
          // Its runtime goes down on its host alone, after its upgrade passed and before the bake's health check.
          await execa('podman', ['stop', '--time', '2', RUNTIME], { env: prodB.host });
          stopped = true;
        },
      );

      expect(stopped).toBe(true);
      expect(last.phase).toBe('rolled-back');
      expect(last.failure?.type).toBe(FleetFailureType.FleetRolledBack);
      expect(last.failure?.message).toContain('wave 1 of 1 went over its failure budget of 0');
      expect(seen['prod-a']).toContain('baking');
      expect(seen['prod-b']).toContain('baking');
      const rolledBack = expect.stringMatching(/^rolled back by the fleet to 1\.2\.0, database restored from /);
      expect(last.environments).toEqual([
        { environment: 'prod-a', wave: 0, fromVersion: '1.2.0', phase: 'rolled-back', detail: rolledBack },
        {
          environment: 'prod-b',
          wave: 0,
          fromVersion: '1.2.0',
          phase: 'rolled-back',
          // The fleet's rollback of the environment that needed it most: not refused for the health it lost.
          detail: rolledBack,
          failure: expect.stringMatching(/^health lost while baking: .*aegis-core-aegis-runtime/),
        },
      ]);
      // The rollback's own validation judged each healthy; each runs 1.2.0 again, its runtime included, as before.
      expect(await stateOf(prodA)).toEqual(before.prodA);
      expect(await stateOf(prodB)).toEqual(before.prodB);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'a fleet of 3 in waves of a third (waveShare 33%), failure budget 1: prod-a fails alone in wave 2, the fleet carries on to prod-b',
    async () => {
      const { staging, 'prod-a': prodA, 'prod-b': prodB } = deployed;
      await deployments('reset', ENVIRONMENTS);
      const before = await stateOf(prodA);
      const fault = faultLine({
        action: 'stop-after:core',
        command: 'make * redeploy POD=core *AEGIS_IMAGE_TAG=1.3.0',
      });
      await fs.appendFile(prodA.env.AEGIS_SANDBOX_FAULTS ?? '', `${fault}\n`);

      const { upgradedInWave, last } = await runFleet('share', [
        ...['--envs', ENVIRONMENTS.join(','), '--wave-share', '33%', '--failure-budget', '1'],
      ]);

      // A third of 3 is one environment a wave: each upgraded in a wave of its own, after the one before had ended.
      expect(last.waves).toBe(3);
      expect(upgradedInWave).toEqual({ staging: 0, 'prod-a': 1, 'prod-b': 2 });
      expect(last.phase).toBe('completed');
      expect(last.failure).toBeUndefined();
      const failed = expect.stringMatching(/^Upgrade 1\.2\.0 → 1\.3\.0 rolled back: /);
      expect(last.environments).toEqual([
        { environment: 'staging', wave: 0, fromVersion: '1.2.0', phase: 'completed' },
        { environment: 'prod-a', wave: 1, fromVersion: '1.2.0', phase: 'rolled-back', failure: failed, detail: failed },
        { environment: 'prod-b', wave: 2, fromVersion: '1.2.0', phase: 'completed' },
      ]);
      for (const deployment of [staging, prodB]) {
        expect(await imageTag(deployment.root)).toBe('1.3.0');
        expect((await runningImages(deployment.host))[RUNTIME]).toMatch(/\/aegis-runtime:1\.3\.0$/);
      }
      expect(await stateOf(prodA)).toEqual(before);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'a fleet whose second wave fails on prod-b, budget 0, roll-back-wave: prod-a back as before, the canary kept',
    async () => {
      const { staging, 'prod-a': prodA, 'prod-b': prodB } = deployed;
      await deployments('reset', ENVIRONMENTS);
      const before = { prodA: await stateOf(prodA), prodB: await stateOf(prodB) };
      // 1.3.0 fails on prod-b alone: its runtime stops right after its redeploy (never ready), on that host only.
      const fault = faultLine({
        action: 'stop-after:core',
        command: 'make * redeploy POD=core *AEGIS_IMAGE_TAG=1.3.0',
      });
      await fs.appendFile(prodB.env.AEGIS_SANDBOX_FAULTS ?? '', `${fault}\n`);

      const started = await cli([
        'fleet',
        'start',
        '1.3.0',
        '--name',
        'budget',
        '--envs',
        ENVIRONMENTS.join(','),
        '--wave-size',
        '2',
        '--failure-budget',
        '0',
        '--on-budget-exceeded',
        'roll-back-wave',
        '--restore-database-on-wave-rollback',
      ]);
      expect(started.exitCode).toBe(0);

      const ended = await client.workflow
        .getHandle(fleetWorkflowId('budget'))
        .result()
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      expect(ended).toBeInstanceOf(WorkflowFailedError);
      const failure = (ended as WorkflowFailedError).cause as ApplicationFailure;
      expect(failure.type).toBe(FleetFailureType.FleetRolledBack);
      expect(failure.message).toContain('wave 2 of 2 went over its failure budget of 0');

      const status = await cli(['fleet', 'status', '--name', 'budget', '--json']);
      expect(status.exitCode).toBe(1);
      const progress = JSON.parse(status.stdout) as FleetProgress;
      const phase = (environment: string) => progress.environments.find((e) => e.environment === environment);
      expect(phase('staging')?.phase).toBe('completed');
      expect(phase('prod-b')?.phase).toBe('rolled-back');
      expect(phase('prod-a')?.phase).toBe('rolled-back');
      expect(phase('prod-a')?.detail).toMatch(/^rolled back by the fleet to 1\.2\.0, database restored from /);

      expect(await imageTag(staging.root)).toBe('1.3.0');
      expect((await runningImages(staging.host))[RUNTIME]).toMatch(/\/aegis-runtime:1\.3\.0$/);
      expect(await stateOf(prodA)).toEqual(before.prodA);
      expect(await stateOf(prodB)).toEqual(before.prodB);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'from 1.3.0 to 1.3.3 (no new migration) in one wave of prod-a and prod-b, prod-b failing, roll-back-wave: both end on 1.3.0',
    async () => {
      const { 'prod-a': prodA, 'prod-b': prodB } = deployed;
      await deployments('reset', ['prod-a', 'prod-b']);
      for (const environment of ['prod-a', 'prod-b']) {
        expect((await cli(['start', '1.3.0', '--env', environment, '--follow'])).exitCode).toBe(0);
      }
      const fault = faultLine({
        action: 'stop-after:core',
        command: 'make * redeploy POD=core *AEGIS_IMAGE_TAG=1.3.3',
      });
      await fs.appendFile(prodB.env.AEGIS_SANDBOX_FAULTS ?? '', `${fault}\n`);

      const started = await cli([
        ...['fleet', 'start', '1.3.3', '--name', 'no-migration', '--envs', 'prod-a,prod-b', '--canary', ''],
        ...['--on-budget-exceeded', 'roll-back-wave'],
      ]);
      expect(started.exitCode).toBe(0);
      const ended = await client.workflow
        .getHandle(fleetWorkflowId('no-migration'))
        .result()
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      expect(ended).toBeInstanceOf(WorkflowFailedError);
      const failure = (ended as WorkflowFailedError).cause as ApplicationFailure;
      expect(failure.type).toBe(FleetFailureType.FleetRolledBack);
      const progress = failure.details?.[0] as FleetProgress;
      expect(progress.environments.map((entry) => [entry.environment, entry.phase])).toEqual([
        ['prod-a', 'rolled-back'],
        ['prod-b', 'rolled-back'],
      ]);
      for (const deployment of [prodA, prodB]) {
        expect(await imageTag(deployment.root)).toBe('1.3.0');
        expect((await runningImages(deployment.host))[RUNTIME]).toMatch(/\/aegis-runtime:1\.3\.0$/);
      }
    },
    TEST_TIMEOUT_MS,
  );
});

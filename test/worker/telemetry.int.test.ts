import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createCommandRunner } from '../../src/host/command';
import { readDeployEnv, secretValues } from '../../src/host/env-file';
import { planWorkflowId } from '../../src/core/environments';
import {
  exportedName,
  SdkMetric,
  STEP_DURATION_BUCKETS,
  UpgradeMetric,
  type MetricDefinition,
} from '../../src/core/metrics';
import { installTelemetry, telemetryInterceptors, telemetrySinks } from '../../src/worker/telemetry';
import {
  approveSignal,
  progressQuery,
  UPGRADE_WORKFLOW_TYPE,
  type UpgradeReport,
  type UpgradeRequest,
} from '../../src/core/upgrade';
import { upgradeFailure } from '../helpers/platform';
import { standInActivities, until, type StandInScenario, type StandIns } from '../helpers/stand-in-activities';
import { freePort, startDevServer, type DevServer } from '../helpers/temporal-server';
import { expectUpgradeLogged, jsonLogLines, outcomeLogged } from '../helpers/worker-log';
import { metricSample, metricSamples } from '../helpers/metrics';

const SETUP_TIMEOUT_MS = 2 * 60_000;
const SCENARIO_TIMEOUT_MS = 60_000;
const ENVIRONMENT = 'telemetry';
const GHCR_TOKEN = 'ghp_telemetryTestTokenDoNotLog';

/**
 * The worker's telemetry as `runWorker` sets it up (the same runtime, logger and interceptors) on the real dev server,
 * with stand-in activities: the validation runs a real command through the real runner, a `.env` secret among its
 * arguments. Its own Jest file: the runtime is installed once per module registry.
 */
describe('the worker logs every step and command, and its metrics endpoint counts the upgrades', () => {
  const lines: string[] = [];
  let server: DevServer;
  let native: NativeConnection;
  let connection: Connection;
  let client: Client;
  let worker: Worker;
  let running: Promise<void>;
  let standIn: StandIns;
  let metricsUrl: string;
  let root: string;
  const taskQueue = 'telemetry';

  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-upgrade-telemetry-'));
    await fs.writeFile(path.join(root, '.env'), `AEGIS_IMAGE_TAG=1.2.0\nGHCR_TOKEN=${GHCR_TOKEN}\n`);
    const metricsAddress = `127.0.0.1:${await freePort()}`;
    metricsUrl = `http://${metricsAddress}/metrics`;
    installTelemetry({ logLevel: 'INFO', logFormat: 'json', metricsAddress }, (line) => lines.push(line));
    server = await startDevServer();
    native = await NativeConnection.connect({ address: server.address });
    connection = await Connection.connect({ address: server.address });
    client = new Client({ connection });
    standIn = standInActivities(new Map());
    worker = await Worker.create({
      connection: native,
      taskQueue,
      workflowsPath: require.resolve('../../src/workflows'),
      activities: standIn.activities,
      interceptors: telemetryInterceptors,
      sinks: telemetrySinks(),
    });
    running = worker.run();
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    worker?.shutdown();
    await running;
    await native?.close();
    await connection?.close();
    await server?.stop();
    await fs.rm(root, { recursive: true, force: true });
  });

  /** The migrations' snapshot runs a command through the real runner that hides the secrets of `.env`. */
  const withCommand: StandInScenario['overrides'] = {
    async snapshotMigrations() {
      const run = createCommandRunner(async () => secretValues(await readDeployEnv(root)));
      await run('node', ['-e', 'setTimeout(() => {}, 100)', 'registry-login', GHCR_TOKEN]);
      return [{ version: 1, description: 'init', success: true, checksum: '00' }];
    },
  };

  /** Upgrade IDs as the CLI makes them: the environment, then when it started. */
  const start = (startedAt: string, request: UpgradeRequest, scenario: StandInScenario) => {
    const workflowId = `aegis-upgrade-${ENVIRONMENT}-${startedAt}`;
    standIn.scenario(workflowId, scenario);
    return client.workflow.start(UPGRADE_WORKFLOW_TYPE, { taskQueue, workflowId, args: [request] });
  };

  /** The upgrade's log lines, once its outcome is written; checked for its steps, commands and `.env` secret. */
  const logOf = async (workflowId: string, report: UpgradeReport) => {
    await until(() => outcomeLogged(jsonLogLines(lines.join('\n')), workflowId));
    return expectUpgradeLogged(lines.join('\n'), report, workflowId, [GHCR_TOKEN]).log;
  };
  const scrape = async () => (await fetch(metricsUrl)).text();

  let completed: { workflowId: string; report: UpgradeReport };
  let rolledBack: { workflowId: string; report: UpgradeReport };

  test(
    'a completed upgrade: each step starts and ends with its duration, the command with its exit code, the retry',
    async () => {
      const handle = await start(
        '2026-11-26T03:00:00Z',
        { targetVersion: '1.3.0', pods: ['database', 'core'] },
        {
          fail: [{ activity: 'pullImages', type: 'RegistryUnreachable', message: 'registry down', retryable: true }],
          overrides: withCommand,
        },
      );
      completed = { workflowId: handle.workflowId, report: await handle.result() };
      const log = await logOf(handle.workflowId, completed.report);

      expect(log.filter((line) => line.status === 'succeeded')).toHaveLength(completed.report.steps.length);
      expect(log).toContainEqual(
        expect.objectContaining({
          level: 'INFO',
          activityType: 'snapshotMigrations',
          exitCode: 0,
          durationMs: expect.any(Number),
          message: expect.stringMatching(
            /^command `node -e setTimeout\(\(\) => \{\}, 100\) registry-login \*\*\*` exited 0 in \d\.\d s$/,
          ),
        }),
      );
      expect(log).toContainEqual(
        expect.objectContaining({
          level: 'WARN',
          activityType: 'pullImages',
          message: 'activity pullImages retried: attempt 2',
        }),
      );
      expect(log).toContainEqual(
        expect.objectContaining({ message: expect.stringMatching(/^upgrade 1\.2\.0 → 1\.3\.0 completed in /) }),
      );
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    'a rolled-back upgrade: the failed step, the rollback plan and each rollback step are logged',
    async () => {
      const handle = await start(
        '2026-11-26T04:00:00Z',
        { targetVersion: '1.3.0', pods: ['database', 'core'] },
        {
          fail: [{ activity: 'awaitMigrations', type: 'MigrationFailed', message: 'migration 3 failed' }],
          overrides: withCommand,
        },
      );
      const failure = await upgradeFailure(handle.result());
      rolledBack = { workflowId: handle.workflowId, report: failure.report };
      const log = await logOf(handle.workflowId, rolledBack.report);

      expect(log).toContainEqual(
        expect.objectContaining({
          level: 'WARN',
          step: 'migrations',
          status: 'failed',
          message: expect.stringMatching(/^step migrations failed in \d+\.\d s: migration 3 failed$/),
        }),
      );
      expect(log).toContainEqual(
        expect.objectContaining({
          level: 'WARN',
          message: expect.stringMatching(/^rollback planned: Set AEGIS_IMAGE_TAG back to 1\.2\.0; /),
        }),
      );
      expect(rolledBack.report.rollback.map((step) => step.status)).toEqual(
        rolledBack.report.rollback.map(() => 'succeeded'),
      );
      expect(log).toContainEqual(
        expect.objectContaining({
          level: 'WARN',
          message: expect.stringMatching(
            /^upgrade 1\.2\.0 → 1\.3\.0 rolled back after .*: migrations failed: migration 3 failed$/,
          ),
        }),
      );
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    'a failed rollback: an error line with what is left to do by hand',
    async () => {
      const handle = await start(
        '2026-11-26T05:00:00Z',
        { targetVersion: '1.3.0', pods: ['database', 'core'] },
        {
          fail: [
            { activity: 'awaitMigrations', type: 'MigrationFailed', message: 'migration 3 failed' },
            { activity: 'restorePinnedImages', type: 'ImageNotFound', message: 'the pinned images are gone' },
          ],
          overrides: withCommand,
        },
      );
      const failure = await upgradeFailure(handle.result());
      const log = await logOf(handle.workflowId, failure.report);

      expect(failure.report.phase).toBe('rollback-failed');
      expect(log).toContainEqual(
        expect.objectContaining({
          level: 'ERROR',
          message: expect.stringMatching(
            /^upgrade 1\.2\.0 → 1\.3\.0 failed and so did its rollback, after .*; finish it by hand: .*aegis-upgrade unlock --env telemetry /,
          ),
        }),
      );
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    'a refused upgrade is logged and counted; a dry run is not counted',
    async () => {
      const refused = await start('2026-11-26T06:00:00Z', { targetVersion: '1.3.0' }, { refuse: 'not enough disk' });
      await upgradeFailure(refused.result());
      const planned = await start('2026-11-26T07:00:00Z', { targetVersion: '1.3.0', dryRun: true }, {});
      await planned.result();
      await until(() => outcomeLogged(jsonLogLines(lines.join('\n')), refused.workflowId));

      expect(jsonLogLines(lines.join('\n'))).toContainEqual(
        expect.objectContaining({
          level: 'WARN',
          workflowId: refused.workflowId,
          message: 'upgrade to 1.3.0 refused by pre-flight: not enough disk',
        }),
      );
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    'dry runs, as the CLI names them, planned or refused: no metric names them',
    async () => {
      const dryRun = (scenario: StandInScenario) => {
        const workflowId = planWorkflowId(ENVIRONMENT, Date.now());
        standIn.scenario(workflowId, scenario);
        const args = [{ targetVersion: '1.3.0', dryRun: true }];
        return client.workflow.start(UPGRADE_WORKFLOW_TYPE, { taskQueue, workflowId, args });
      };
      const planned = await dryRun({});
      await planned.result();
      const refused = await dryRun({ refuse: 'not enough disk' });
      await upgradeFailure(refused.result());
      await until(() => outcomeLogged(jsonLogLines(lines.join('\n')), refused.workflowId));

      expect(await scrape()).not.toContain('aegis-plan-');
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    'the metrics endpoint counts the upgrades started, ended by outcome and refused apart, times the steps, and keeps the last success',
    async () => {
      expect(rolledBack).toBeDefined();
      const page = await scrape();
      if (!page.includes('aegis_')) throw new Error(`No aegis metric on the page:\n${page}`);
      const environment = { environment: ENVIRONMENT };
      const sample = (metric: MetricDefinition, labels: Record<string, string> = {}, suffix = '') =>
        metricSample(page, `${exportedName(metric)}${suffix}`, { ...environment, ...labels });

      // Completed, rolled back, rollback failed: the refused pre-flight and the dry runs are no upgrade started.
      expect(sample(UpgradeMetric.started)).toBe(3);
      expect(sample(UpgradeMetric.preflightRefused)).toBe(1);
      expect(sample(UpgradeMetric.ended, { outcome: 'completed' })).toBe(1);
      expect(sample(UpgradeMetric.ended, { outcome: 'rolled-back' })).toBe(1);
      expect(sample(UpgradeMetric.ended, { outcome: 'rollback-failed' })).toBe(1);
      expect(sample(UpgradeMetric.ended, { outcome: 'refused' })).toBeUndefined();
      expect(sample(UpgradeMetric.ended, { outcome: 'planned' })).toBeUndefined();
      expect(sample(UpgradeMetric.stepDuration, { step: 'validate' }, '_count')).toBe(1);
      expect(sample(UpgradeMetric.stepDuration, { step: 'migrations', status: 'failed' }, '_count')).toBe(2);
      const lastSuccess = sample(UpgradeMetric.lastSuccess) ?? 0;
      expect(Math.abs(lastSuccess - Date.now() / 1000)).toBeLessThan(120);
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    'every label is snake_case; ours carry the labels the SDK puts on its own workflow metrics',
    async () => {
      const samples = metricSamples(await scrape());
      const labelNames = new Set(samples.flatMap((sample) => Object.keys(sample.labels)));
      expect([...labelNames].filter((name) => !/^[a-z][a-z0-9_]*$/.test(name))).toEqual([]);
      const sdkCompleted = samples.find(
        (sample) => sample.name === 'temporal_workflow_completed_total' && sample.labels.task_queue === taskQueue,
      );
      const ours = samples.find((sample) => sample.name === exportedName(UpgradeMetric.started));
      const workflowLabels = { namespace: 'default', task_queue: taskQueue, workflow_type: UPGRADE_WORKFLOW_TYPE };
      expect(sdkCompleted?.labels).toMatchObject(workflowLabels);
      expect(ours?.labels).toEqual({ environment: ENVIRONMENT, ...workflowLabels });
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    "the SDK's metrics follow Prometheus' conventions: counters end in _total, durations in seconds; the alerts' are there",
    async () => {
      const names = new Set(metricSamples(await scrape()).map((sample) => sample.name));
      expect(names).toContain('temporal_request_latency_seconds_bucket');
      expect(names).not.toContain('temporal_request_latency_milliseconds_bucket');
      expect(names).toContain('temporal_workflow_completed_total');
      expect(names).not.toContain('temporal_workflow_completed');
      // Seconds, not milliseconds: no request to a local dev server takes more than a minute.
      const latency = metricSamples(await scrape()).find(
        (sample) => sample.name === 'temporal_request_latency_seconds_sum' && sample.value > 0,
      );
      const count = metricSamples(await scrape()).find(
        (sample) =>
          sample.name === 'temporal_request_latency_seconds_count' &&
          sample.labels.operation === latency?.labels.operation,
      );
      expect((latency?.value ?? Infinity) / (count?.value ?? 1)).toBeLessThan(60);
      expect(names).toContain(SdkMetric.pollers);
      // The steps' own buckets, in seconds: up to two hours.
      const stepBuckets = metricSamples(await scrape())
        .filter((sample) => sample.name === `${exportedName(UpgradeMetric.stepDuration)}_bucket`)
        .map((sample) => sample.labels.le);
      expect(new Set(stepBuckets)).toEqual(new Set([...STEP_DURATION_BUCKETS.map(String), '+Inf']));
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    'aegis_upgrade_in_progress: 1 for waiting-for-approval while the upgrade waits, 0 for every phase once it ended',
    async () => {
      const handle = await start(
        '2026-11-26T08:00:00Z',
        { targetVersion: '1.3.0', pods: ['database', 'core'], approveBefore: ['core'] },
        {},
      );
      await until(async () => (await handle.query(progressQuery)).phase === 'waiting-for-approval');
      const inProgress = async () => {
        const samples = metricSamples(await scrape()).filter(
          (sample) =>
            sample.name === exportedName(UpgradeMetric.inProgress) && sample.labels.environment === ENVIRONMENT,
        );
        return Object.fromEntries(samples.map((sample) => [sample.labels.phase, sample.value]));
      };
      await until(async () => (await inProgress())['waiting-for-approval'] === 1);
      expect(await inProgress()).toEqual({
        preflight: 0,
        upgrading: 0,
        'waiting-for-approval': 1,
        'rolling-back': 0,
      });

      await handle.signal(approveSignal);
      await handle.result();
      await until(async () => (await inProgress())['waiting-for-approval'] === 0);
      expect(await inProgress()).toEqual({
        preflight: 0,
        upgrading: 0,
        'waiting-for-approval': 0,
        'rolling-back': 0,
      });
    },
    SCENARIO_TIMEOUT_MS,
  );
});

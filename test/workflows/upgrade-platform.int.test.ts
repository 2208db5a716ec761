import fs from 'node:fs/promises';
import path from 'node:path';
import { readDeployEnv, secretValues } from '../../src/host/env-file';
import type { RedeployResult } from '../../src/activities/pods';
import { UpgradeFailureType, progressQuery, type UpgradeReport } from '../../src/core/upgrade';
import {
  backupsIn,
  commandLog,
  dumpRuntimeDatabase,
  hostCliState,
  imageTag,
  psql,
  runningImages,
  startUpgrade,
  upgradeFailure,
  clearServer,
  usePlatform,
  waitFor,
} from '../helpers/platform';
import { activitiesScheduledTwice, activityRuns, recordHistory } from '../helpers/histories';
import { expectUpgradeLogged, jsonLogLines, outcomeLogged } from '../helpers/worker-log';
import { sandboxFaults } from '../helpers/faults';
import { sandbox } from '../helpers/sandbox';
import type { WorkerProcess } from '../helpers/worker-process';

/** Each scenario is a whole upgrade on real pods: minutes, not seconds. */
const SCENARIO_TIMEOUT_MS = 10 * 60_000;

describe('upgradePlatform on the sandbox', () => {
  const platform = usePlatform();
  let worker: WorkerProcess | undefined;

  beforeEach(async () => {
    await sandbox('reset');
  }, SCENARIO_TIMEOUT_MS);

  afterEach(async () => {
    await clearServer(platform.client);
    await worker?.stop();
    worker = undefined;
  });

  /** `bin/aegis --version`, and the FUSE daemon running and started as that release. */
  const HOST_ON = (version: string) => ({
    binary: `aegis ${version}`,
    daemon: `active (running), started as aegis ${version}`,
  });

  const images = (tag: string) => ({
    'aegis-core-aegis-runtime': `${platform.env.AEGIS_REGISTRY}/aegis-runtime:${tag}`,
    'aegis-temporal-temporal-worker': `${platform.env.AEGIS_REGISTRY}/aegis-temporal-worker:${tag}`,
    'aegis-seal-gateway-seal-gateway': `${platform.env.AEGIS_REGISTRY}/aegis-seal-gateway:${tag}`,
  });

  /** An upgrade to 1.3.0 two seconds into the redeploy of temporal, which the sandbox stretches to 8 s. */
  async function upgradeInsideRedeployOfTemporal() {
    worker = await platform.startWorker({ AEGIS_SANDBOX_REDEPLOY_DELAY: '8' });
    const handle = await startUpgrade(platform, { targetVersion: '1.3.0' });
    await waitFor(async () => (await handle.query(progressQuery)).currentStep === 'redeploy:temporal');
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    return handle;
  }

  /** The pods `make redeploy` ran for, in order, from the sandbox's command log. */
  async function redeployedPods(): Promise<(string | undefined)[]> {
    return (await commandLog(platform.env))
      .filter((line) => line.startsWith('redeploy'))
      .map((line) => /POD=(\S+)/.exec(line)?.[1]);
  }

  async function expectBaseline(databaseBefore: string): Promise<void> {
    expect(await hostCliState(platform.root)).toEqual(HOST_ON('1.2.0'));
    expect(await imageTag(platform.root)).toBe('1.2.0');
    expect(await runningImages()).toMatchObject(images('1.2.0'));
    expect(await dumpRuntimeDatabase()).toEqual(databaseBefore);
  }

  test(
    '1.2.0 → 1.3.0 completes: new images, .env, migration, verified backup, every step timed',
    async () => {
      worker = await platform.startWorker();
      const handle = await startUpgrade(platform, { targetVersion: '1.3.0' });
      const report: UpgradeReport = await handle.result();
      await recordHistory(handle, 'platform-completed-1.3.0');

      expect(report.phase).toBe('completed');
      expect(report.fromVersion).toBe('1.2.0');
      expect(await imageTag(platform.root)).toBe('1.3.0');
      expect(await runningImages()).toMatchObject(images('1.3.0'));
      expect(Number(await psql('select count(*) from _sqlx_migrations where success'))).toBe(4);
      expect(report.migrationsApplied).toHaveLength(1);
      // The pods whose definition does not name the tag are not redeployed (no restart, no downtime for nothing).
      const unchanged = ['redeploy:database', 'redeploy:observability'];
      for (const step of report.steps.filter(({ id }) => !unchanged.includes(id))) {
        expect(step).toMatchObject({
          status: 'succeeded',
          startedAt: expect.any(String),
          durationMs: expect.any(Number),
        });
      }
      for (const id of unchanged) {
        expect(report.steps.find((step) => step.id === id)).toMatchObject({
          status: 'skipped',
          detail: expect.stringContaining('unchanged, not redeployed'),
        });
      }
      expect(await redeployedPods()).toEqual(['core', 'temporal', 'seal-gateway']);
      expect(report.steps.map((step) => step.id)).toEqual([
        'preflight',
        'pull-images',
        'backup',
        'set-tag',
        'redeploy:database',
        'final-backup',
        'redeploy:core',
        'migrations',
        'host-cli',
        'redeploy:temporal',
        'redeploy:seal-gateway',
        'redeploy:observability',
        'validate',
      ]);
      expect(report.images.map((image) => image.digest)).toEqual([
        expect.stringMatching(/^sha256:/),
        expect.stringMatching(/^sha256:/),
        expect.stringMatching(/^sha256:/),
      ]);
      const backup = report.backup!;
      expect(backup.location.startsWith(path.join(platform.root, 'backups'))).toBe(true);
      for (const file of backup.files)
        expect((await fs.stat(path.join(backup.location, file.name))).size).toBe(file.bytes);
      const manifest = JSON.parse(await fs.readFile(path.join(backup.location, 'manifest.json'), 'utf8'));
      expect(manifest).toMatchObject({ fromVersion: '1.2.0', toVersion: '1.3.0', migrations: expect.any(Array) });
      expect(manifest.migrations).toHaveLength(3);
      expect(JSON.stringify(report)).not.toContain(await secret('POSTGRES_PASSWORD'));
      // The host's binary and its FUSE daemon follow the runtime (`make redeploy` does neither), the old one kept.
      expect(await hostCliState(platform.root)).toEqual(HOST_ON('1.3.0'));
      expect(report.hostCli).toEqual({
        binary: 'bin/aegis says aegis 1.3.0',
        daemon: expect.stringMatching(
          /^aegis-fuse-daemon active \(running\), pid \d+, listening on 127\.0\.0\.1:\d+, on bin\/aegis$/,
        ),
      });
      expect((await fs.stat(path.join(backup.location, 'host', 'aegis'))).mode & 0o777).toBe(0o600);

      // 1.3.1's migration fails, before its binary: rolled back, the host still on 1.3.0.
      const failure = await upgradeFailure(
        startUpgrade(platform, { targetVersion: '1.3.1' }).then((next) => next.result()),
      );
      expect(failure.type).toBe(UpgradeFailureType.UpgradeRolledBack);
      expect(await hostCliState(platform.root)).toEqual(HOST_ON('1.3.0'));
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    'strategy full: teardown, deploy, bootstrap-secrets, then the same checks; 1.3.0 completes, each step and command logged',
    async () => {
      worker = await platform.startWorker({ AEGIS_LOG_FORMAT: 'json' });
      const handle = await startUpgrade(platform, { targetVersion: '1.3.0', strategy: 'full' });
      const report: UpgradeReport = await handle.result();
      await recordHistory(handle, 'platform-full-completed');
      const logged = await workerLog(worker, report, handle.workflowId);
      for (const target of [
        'teardown PROFILE=\\S+',
        'deploy PROFILE=\\S+',
        'bootstrap-secrets PROFILE=\\S+',
        'validate',
      ]) {
        expect(logged.commands).toContainEqual(
          expect.objectContaining({
            exitCode: 0,
            message: expect.stringMatching(new RegExp(`^command \`make -C \\S+ ${target}\` exited 0 in \\d`)),
          }),
        );
      }

      expect(report.phase).toBe('completed');
      expect(report.steps.map((step) => step.id)).toEqual([
        'preflight',
        'pull-images',
        'backup',
        'set-tag',
        'final-backup',
        'deploy',
        'migrations',
        'host-cli',
        'validate',
      ]);
      // `make deploy` ran install-cli itself; the upgrade's own step checked the daemon on it.
      expect(await hostCliState(platform.root)).toEqual(HOST_ON('1.3.0'));
      expect(await runningImages()).toMatchObject(images('1.3.0'));
      const commands = (await commandLog(platform.env)).map((line) => line.split(' ')[0]);
      expect(commands.filter((command) => command !== 'validate')).toEqual(['teardown', 'deploy', 'bootstrap-secrets']);
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    'strategy full: a failed migration is rolled back by a full redeploy on the previous images',
    async () => {
      const databaseBefore = await dumpRuntimeDatabase();
      worker = await platform.startWorker();
      const handle = await startUpgrade(platform, { targetVersion: '1.3.1', strategy: 'full' });
      const failure = await upgradeFailure(handle.result());
      await recordHistory(handle, 'platform-full-rolled-back-1.3.1');

      expect(failure.type).toBe(UpgradeFailureType.UpgradeRolledBack);
      expect(failure.report.rollback.map((step) => step.id)).toEqual([
        'rollback:tag',
        'rollback:database',
        'rollback:deploy',
        'rollback:host-cli',
        'rollback:writers',
        'rollback:validate',
      ]);
      expect(failure.report.databaseRestored).toBe(true);
      await expectBaseline(databaseBefore);
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    '1.2.0 → 1.3.1: the failed migration rolls everything back and restores the database, each step and command logged',
    async () => {
      const databaseBefore = await dumpRuntimeDatabase();
      worker = await platform.startWorker({ AEGIS_LOG_FORMAT: 'json' });
      const handle = await startUpgrade(platform, { targetVersion: '1.3.1' });
      const failure = await upgradeFailure(handle.result());
      await recordHistory(handle, 'platform-rolled-back-1.3.1');
      const { log, commands } = await workerLog(worker, failure.report, handle.workflowId);
      expect(log).toContainEqual(
        expect.objectContaining({ level: 'WARN', message: expect.stringMatching(/^rollback planned: /) }),
      );
      expect(commands).toContainEqual(
        expect.objectContaining({
          exitCode: 0,
          activityType: 'redeployPod',
          message: expect.stringMatching(/^command `make -C \S+ redeploy POD=core` exited 0 in \d/),
        }),
      );

      expect(failure.type).toBe(UpgradeFailureType.UpgradeRolledBack);
      expect(failure.report.cause).toMatchObject({
        step: 'migrations',
        message: expect.stringContaining('Failed to apply migrations'),
      });
      expect(failure.report.databaseRestored).toBe(true);
      expect(failure.report.backup?.location).toBeDefined();
      expect(failure.report.rollback.every((step) => step.status === 'succeeded')).toBe(true);
      await expectBaseline(databaseBefore);
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    '1.2.0 → 1.3.2: readiness stays degraded, so the upgrade is rolled back',
    async () => {
      const databaseBefore = await dumpRuntimeDatabase();
      worker = await platform.startWorker();
      const handle = await startUpgrade(platform, { targetVersion: '1.3.2' });
      const failure = await upgradeFailure(handle.result());
      await recordHistory(handle, 'platform-rolled-back-1.3.2');

      expect(failure.type).toBe(UpgradeFailureType.UpgradeRolledBack);
      expect(failure.report.cause).toMatchObject({ step: 'validate', message: expect.stringContaining('degraded') });
      await expectBaseline(databaseBefore);
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    '1.2.0 → 1.4.0 stops in pre-flight, naming the missing images, and changes nothing',
    async () => {
      const envBefore = await fs.readFile(path.join(platform.root, '.env'), 'utf8');
      const containersBefore = await runningImages();
      worker = await platform.startWorker();
      const handle = await startUpgrade(platform, { targetVersion: '1.4.0' });
      const failure = await upgradeFailure(handle.result());
      await recordHistory(handle, 'platform-refused-1.4.0');

      expect(failure.type).toBe(UpgradeFailureType.PreflightFailed);
      expect(failure.message).toContain('aegis-temporal-worker:1.4.0');
      expect(failure.message).toContain('aegis-seal-gateway:1.4.0');
      expect(failure.message).not.toContain('aegis-runtime:1.4.0');
      expect(await fs.readFile(path.join(platform.root, '.env'), 'utf8')).toBe(envBefore);
      expect(await runningImages()).toEqual(containersBefore);
      expect(await backupsIn(platform.root)).toEqual([]);
      // Pre-flight's looks run side by side: its `make validate` (which only looks) may have run; nothing else did.
      expect((await commandLog(platform.env)).filter((line) => !line.startsWith('validate '))).toEqual([]);
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    'a worker killed in the middle of a redeploy: a new one retries that redeploy (its make again only if the first ' +
      'did not finish) and finishes the upgrade; no completed step runs again',
    async () => {
      const handle = await upgradeInsideRedeployOfTemporal();
      await worker?.kill();

      worker = await platform.startWorker();
      const report: UpgradeReport = await handle.result();
      await recordHistory(handle, 'platform-worker-killed');
      expect(report.phase).toBe('completed');
      expect(await runningImages()).toMatchObject(images('1.3.0'));
      const runs = activityRuns(await handle.fetchHistory());
      expect(activitiesScheduledTwice(runs)).toEqual([]);
      // Only the redeploy the worker died in ran a second attempt; it skips its make if the killed worker's finished.
      const retried = runs.filter((run) => run.attempt !== 1);
      expect(retried).toEqual([
        expect.objectContaining({ activity: 'redeployPod', input: [expect.objectContaining({ pod: 'temporal' })] }),
      ]);
      const { skipped } = retried[0]?.result as RedeployResult;
      expect(await redeployedPods()).toEqual(['core', 'temporal', ...(skipped ? [] : ['temporal']), 'seal-gateway']);
      expect(report.steps.find((step) => step.id === 'redeploy:temporal')?.status).toBe('succeeded');
      expect(await backupsIn(platform.root)).toHaveLength(1);
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    'a worker stopped (SIGTERM) in the middle of a redeploy finishes it; a new one completes the upgrade',
    async () => {
      const handle = await upgradeInsideRedeployOfTemporal();
      const stopping = worker!;
      worker = undefined;
      const ended = await stopping.stop();
      // The output in the comparison, so that a failure shows what the worker said.
      expect({ ended, output: stopping.output() }).toEqual({
        ended: 0,
        output: expect.stringMatching(/SIGTERM: taking no new task[^]*aegis-upgrade worker: stopped/),
      });

      // Between the two workers: the redeploy it was running has ended, no pod is left half-replaced.
      const between = await runningImages();
      expect(between['aegis-temporal-temporal-worker']).toBe(images('1.3.0')['aegis-temporal-temporal-worker']);
      expect(between['aegis-seal-gateway-seal-gateway']).toBe(images('1.2.0')['aegis-seal-gateway-seal-gateway']);

      worker = await platform.startWorker();
      const report: UpgradeReport = await handle.result();
      await recordHistory(handle, 'platform-worker-stopped');
      expect(report.phase).toBe('completed');
      expect(await runningImages()).toMatchObject(images('1.3.0'));
      expect(await redeployedPods()).toEqual(['core', 'temporal', 'seal-gateway']);
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    'cancelling a running upgrade rolls it back',
    async () => {
      const databaseBefore = await dumpRuntimeDatabase();
      worker = await platform.startWorker({ AEGIS_SANDBOX_REDEPLOY_DELAY: '5' });
      const handle = await startUpgrade(platform, { targetVersion: '1.3.0' });
      await waitFor(async () => (await handle.query(progressQuery)).currentStep === 'redeploy:temporal');
      await handle.cancel();

      const failure = await upgradeFailure(handle.result());
      await recordHistory(handle, 'platform-cancelled');
      expect(failure.type).toBe(UpgradeFailureType.UpgradeRolledBack);
      expect(failure.report.cause?.message).toContain('cancelled');
      expect(failure.report.databaseRestored).toBe(true);
      await expectBaseline(databaseBefore);
    },
    SCENARIO_TIMEOUT_MS,
  );

  describe('concurrentAfterCore: the pods after the runtime redeployed at once', () => {
    /** Each redeploy stretched to 3 s, so that two side by side overlap for certain. */
    const startConcurrentWorker = (extra: Record<string, string> = {}) =>
      platform.startWorker({ AEGIS_SANDBOX_REDEPLOY_DELAY: '3', AEGIS_READY_TIMEOUT_SECONDS: '15', ...extra });

    test(
      '1.2.0 → 1.3.0 completes: temporal and seal-gateway redeployed side by side, after core and its migrations',
      async () => {
        worker = await startConcurrentWorker();
        const handle = await startUpgrade(platform, { targetVersion: '1.3.0', concurrentAfterCore: true });
        const report: UpgradeReport = await handle.result();

        expect(report.phase).toBe('completed');
        expect(await runningImages()).toMatchObject(images('1.3.0'));
        const step = (id: string) => report.steps.find((record) => record.id === id);
        const [migrations, temporal, sealGateway] = ['migrations', 'redeploy:temporal', 'redeploy:seal-gateway'].map(
          (id) => ({ id, started: Date.parse(step(id)?.startedAt ?? ''), ended: Date.parse(step(id)?.endedAt ?? '') }),
        );
        // After the runtime's migrations were judged, and overlapping each other.
        expect({
          temporal: temporal!.started >= migrations!.ended,
          sealGateway: sealGateway!.started >= migrations!.ended,
        }).toEqual({ temporal: true, sealGateway: true });
        expect({
          overlap: Math.min(temporal!.ended, sealGateway!.ended) > Math.max(temporal!.started, sealGateway!.started),
          temporal,
          sealGateway,
        }).toMatchObject({ overlap: true });
        const redeployed = await redeployedPods();
        expect(redeployed.slice(0, 1)).toEqual(['core']);
        expect([...redeployed.slice(1)].sort()).toEqual(['seal-gateway', 'temporal']);
      },
      SCENARIO_TIMEOUT_MS,
    );

    test(
      'seal-gateway not ready after its concurrent redeploy → rolled back: .env, images and the database as before',
      async () => {
        const databaseBefore = await dumpRuntimeDatabase();
        const faults = sandboxFaults(platform.env);
        await faults.add({
          action: 'stop-after:seal-gateway',
          command: 'make * redeploy POD=seal-gateway *AEGIS_IMAGE_TAG=1.3.0',
        });
        worker = await startConcurrentWorker({ PATH: faults.workerPath() });
        const handle = await startUpgrade(platform, { targetVersion: '1.3.0', concurrentAfterCore: true });

        const failure = await upgradeFailure(handle.result());
        expect({ type: failure.type, step: failure.report.cause?.step }).toEqual({
          type: UpgradeFailureType.UpgradeRolledBack,
          step: 'redeploy:seal-gateway',
        });
        // Temporal, redeployed beside it, is rolled back too, and the migrated database restored.
        expect(failure.report.databaseRestored).toBe(true);
        await faults.clear();
        await expectBaseline(databaseBefore);
      },
      SCENARIO_TIMEOUT_MS,
    );
  });

  /**
   * The worker's log of upgrade `workflowId` (AEGIS_LOG_FORMAT=json), once its outcome is written: each step of the
   * report and its rollback, each command with its exit code and duration, no secret of the checkout's `.env`.
   */
  async function workerLog(running: WorkerProcess, report: UpgradeReport, workflowId: string) {
    await waitFor(async () => outcomeLogged(jsonLogLines(running.output()), workflowId), 10_000);
    const secrets = secretValues(await readDeployEnv(platform.root));
    expect(secrets).toContain(await secret('GHCR_TOKEN'));
    return expectUpgradeLogged(running.output(), report, workflowId, secrets);
  }

  async function secret(key: string): Promise<string> {
    const env = await fs.readFile(path.join(platform.root, '.env'), 'utf8');
    return new RegExp(`^${key}=(.*)$`, 'm').exec(env)?.[1] ?? '';
  }
});

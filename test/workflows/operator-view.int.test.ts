import { execa } from 'execa';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { readDeployEnv, secretValues } from '../../src/host/env-file';
import type { HistoryEntry } from '../../src/cli/upgrades';
import type { UpgradeNotification } from '../../src/core/notifications';
import { exportedName, UpgradeMetric } from '../../src/core/metrics';
import { UpgradeFailureType, type UpgradeReport } from '../../src/core/upgrade';
import { metricSample } from '../helpers/metrics';
import { clearServer, startUpgrade, upgradeFailure, usePlatform } from '../helpers/platform';
import { REPO_ROOT } from '../helpers/repo';
import { sandbox } from '../helpers/sandbox';
import { freePort, temporalCliBinary } from '../helpers/temporal-server';
import type { WorkerProcess } from '../helpers/worker-process';

const SCENARIO_TIMEOUT_MS = 10 * 60_000;
const CLI = path.join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
const WEBHOOK_TOKEN = 'T0K3N-operator-view-webhook';

/**
 * What an operator sees of real upgrades on the sandbox, from the worker as it runs in production: the webhook's
 * messages, the Prometheus endpoint, the Temporal UI's search attributes (the same rows as `aegis-upgrade history`),
 * and a log with no secret. One completed upgrade (1.2.0 → 1.3.0), then one rolled back (1.3.0 → 1.3.1).
 */
describe('what an operator sees of a completed and a rolled-back upgrade on the sandbox', () => {
  const platform = usePlatform();
  let worker: WorkerProcess | undefined;
  let receiver: http.Server | undefined;
  const posts: UpgradeNotification[] = [];

  beforeAll(async () => {
    await sandbox('reset');
    receiver = http.createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        posts.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as UpgradeNotification);
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver?.listen(0, '127.0.0.1', resolve));
  }, SCENARIO_TIMEOUT_MS);

  // Before the platform's own afterAll closes its connection to the server.
  afterEach(async () => {
    await clearServer(platform.client);
    await worker?.stop();
    worker = undefined;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => (receiver ? receiver.close(() => resolve()) : resolve()));
  });

  test(
    'webhooks in order, metrics moved, search attributes as history lists them, no secret in the log',
    async () => {
      const metricsAddress = `127.0.0.1:${await freePort()}`;
      const { port } = receiver?.address() as AddressInfo;
      worker = await platform.startWorker({
        AEGIS_METRICS_ADDRESS: metricsAddress,
        AEGIS_WEBHOOK_URL: `http://127.0.0.1:${port}/hooks/${WEBHOOK_TOKEN}`,
      });

      const completed = await startUpgrade(platform, { targetVersion: '1.3.0' });
      const report: UpgradeReport = await completed.result();
      expect(report.phase).toBe('completed');
      const rolledBack = await startUpgrade(platform, { targetVersion: '1.3.1' });
      const failure = await upgradeFailure(rolledBack.result());
      expect(failure.type).toBe(UpgradeFailureType.UpgradeRolledBack);

      // The webhook: each upgrade's start and end, in order, with what an operator acts on.
      expect(posts.map((post) => `${post.event} ${post.toVersion}`)).toEqual([
        'started 1.3.0',
        'completed 1.3.0',
        'started 1.3.1',
        'rolled-back 1.3.1',
      ]);
      const [, done, , undone] = posts;
      expect(done?.backup).toBe(report.backup?.location);
      await fs.access(done?.backup ?? '/nonexistent');
      expect(undone).toMatchObject({
        fromVersion: '1.3.0',
        cause: { step: 'migrations' },
        command: 'aegis-upgrade status --env default',
      });
      expect(undone?.databaseRestore?.dumps.length).toBeGreaterThan(0);
      expect(undone?.text).toContain('rolled back');

      // Prometheus: the counters moved, the steps are timed, the last success is kept.
      const page = await (await fetch(`http://${metricsAddress}/metrics`)).text();
      const environment = { environment: 'default' };
      expect({
        started: metricSample(page, exportedName(UpgradeMetric.started), environment),
        completed: metricSample(page, exportedName(UpgradeMetric.ended), { ...environment, outcome: 'completed' }),
        rolledBack: metricSample(page, exportedName(UpgradeMetric.ended), { ...environment, outcome: 'rolled-back' }),
        coreRedeploys: metricSample(page, `${exportedName(UpgradeMetric.stepDuration)}_count`, {
          ...environment,
          step: 'redeploy:core',
        }),
      }).toEqual({ started: 2, completed: 1, rolledBack: 1, coreRedeploys: 2 });
      expect(metricSample(page, exportedName(UpgradeMetric.lastSuccess), environment)).toBeGreaterThan(0);

      // The Temporal UI's filter finds both, and `aegis-upgrade history` lists the same runs.
      const temporal = await temporalCliBinary();
      const list = async (query: string) =>
        (
          JSON.parse(
            (
              await execa(temporal, [
                ...['workflow', 'list', '--address', platform.server.address, '--query', query, '--output', 'json'],
              ])
            ).stdout || '[]',
          ) as { execution: { runId: string } }[]
        )
          .map(({ execution }) => execution.runId)
          .sort();
      const runs = await list('AegisEnvironment="default"');
      expect(runs).toEqual([completed.firstExecutionRunId, rolledBack.firstExecutionRunId].sort());
      expect(
        await list('AegisEnvironment="default" AND AegisPhase="rolled-back" AND AegisFromVersion="1.3.0"'),
      ).toEqual([rolledBack.firstExecutionRunId]);
      const history = await execa(process.execPath, [CLI, 'history', '--env', 'default', '--limit', '10', '--json'], {
        env: { ...platform.env, HOME: platform.root },
        reject: false,
      });
      expect({ exitCode: history.exitCode, stderr: history.stderr }).toEqual({ exitCode: 0, stderr: '' });
      const entries = JSON.parse(history.stdout) as HistoryEntry[];
      expect(entries.map((entry) => entry.runId).sort()).toEqual(runs);
      expect(entries.map((entry) => entry.phase).sort()).toEqual(['completed', 'rolled-back']);

      // Nothing secret in what the worker logged, nor the webhook's token.
      const output = worker.output();
      for (const secret of [...secretValues(await readDeployEnv(platform.root)), WEBHOOK_TOKEN]) {
        expect(output).not.toContain(secret);
      }
      for (const post of posts) expect(JSON.stringify(post)).not.toContain(WEBHOOK_TOKEN);
    },
    SCENARIO_TIMEOUT_MS,
  );
});

import type { Client } from '@temporalio/client';
import { workflowMetadataQuery } from '@temporalio/workflow';
import { execa } from 'execa';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createSchedule, deleteSchedule, triggerSchedule } from '../../src/cli/schedules';
import { planUpgrade, startUpgrade, type HistoryEntry } from '../../src/cli/upgrades';
import { AegisPhase } from '../../src/core/search-attributes';
import { UPGRADE_WORKFLOW_TYPE, type UpgradeRequest } from '../../src/core/upgrade';
import { REPO_ROOT } from '../helpers/repo';
import { startStandInServer, until, type StandInScenario, type StandInServer } from '../helpers/stand-in-activities';
import { temporalCliBinary } from '../helpers/temporal-server';

const SETUP_TIMEOUT_MS = 2 * 60_000;
const TEST_TIMEOUT_MS = 90_000;
const CLI = path.join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');

/**
 * The search attributes on the real dev server, with stand-in activities: `temporal workflow list --query` finds an
 * environment's upgrades by them, and the built `aegis-upgrade history --env` lists the same runs.
 */
describe('upgrades found by their search attributes', () => {
  let bench: StandInServer;
  let client: Client;
  let temporal: string;
  let home: string;

  beforeAll(async () => {
    await fs.access(CLI).catch((error: unknown) => {
      throw new Error(`${CLI} is missing: run \`npm run build\` (npm test does it first)`, { cause: error });
    });
    temporal = await temporalCliBinary();
    home = await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-upgrade-search-attributes-'));
    // The deploy checkout the worker checks at start (its Makefile and .env): it is the worker's AEGIS_ROOT below.
    await fs.writeFile(path.join(home, 'Makefile'), 'validate:\n\ttrue\n');
    await fs.writeFile(path.join(home, '.env'), 'AEGIS_IMAGE_TAG=1.2.0\n');
    bench = await startStandInServer();
    client = bench.client;
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await bench?.close();
    if (home) await fs.rm(home, { recursive: true, force: true });
  });

  /** The built CLI as an operator runs it, on this server only: no profile file in its HOME. */
  const aegisUpgrade = (args: string[], namespace = 'default') =>
    execa(process.execPath, [CLI, ...args], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: home,
        TEMPORAL_ADDRESS: bench.server.address,
        TEMPORAL_NAMESPACE: namespace,
        AEGIS_TASK_QUEUE: bench.taskQueue,
        // A checkout as the worker checks it: `worker` gets as far as its check of the namespace.
        AEGIS_ROOT: home,
      },
      extendEnv: false,
      reject: false,
    });

  /** The run IDs `temporal workflow list --query` finds, sorted. */
  const listed = async (query: string, namespace = 'default'): Promise<string[]> => {
    const { stdout } = await execa(temporal, [
      ...['workflow', 'list', '--address', bench.server.address, '--namespace', namespace],
      ...['--query', query, '--output', 'json'],
    ]);
    const runs = JSON.parse(stdout || '[]') as { execution: { runId: string } }[];
    return runs.map(({ execution }) => execution.runId).sort();
  };

  const createNamespace = (namespace: string) =>
    execa(temporal, ['operator', 'namespace', 'create', '--address', bench.server.address, '--namespace', namespace]);

  const history = async (env: string): Promise<HistoryEntry[]> => {
    const { exitCode, stdout, stderr } = await aegisUpgrade(['history', '--env', env, '--limit', '100', '--json']);
    expect({ exitCode, stderr }).toEqual({ exitCode: 0, stderr: '' });
    return JSON.parse(stdout) as HistoryEntry[];
  };

  /** Starts an upgrade of `env` as `aegis-upgrade start` does, on `scenario`, and waits for its end. */
  const upgrade = async (env: string, request: UpgradeRequest, scenario: StandInScenario = {}) => {
    bench.standIn.scenario(`aegis-upgrade-${env}`, scenario);
    const handle = await startUpgrade(client, bench.taskQueue, request, env);
    await handle.result().catch(() => undefined);
    return handle.firstExecutionRunId;
  };

  test(
    "an environment's upgrades: the same runs in `temporal workflow list` and in `aegis-upgrade history --env`",
    async () => {
      const completed = await upgrade('alpha', { targetVersion: '1.3.0' });
      const rolledBack = await upgrade(
        'alpha',
        { targetVersion: '1.3.1' },
        { fail: [{ activity: 'validatePlatform', type: 'ValidationFailed', message: 'make validate failed' }] },
      );
      // Its workflow IDs start like alpha's: the server tells them apart by the attribute.
      const other = await upgrade('alpha2', { targetVersion: '1.3.0' });
      // A dry run is no upgrade: it has no attributes.
      await planUpgrade(client, bench.taskQueue, { targetVersion: '1.3.0' }, 'alpha', TEST_TIMEOUT_MS);
      await createSchedule(client, bench.taskQueue, { targetVersion: '1.3.0' }, 'alpha', {
        cronExpressions: ['0 3 1 1 *'],
      });
      await triggerSchedule(client, 'alpha');
      await until(
        async () => (await listed('AegisEnvironment="alpha" AND AegisPhase="completed"')).length === 2,
        30_000,
      );
      await deleteSchedule(client, 'alpha');

      const alpha = await listed('AegisEnvironment="alpha"');
      const entries = await history('alpha');

      expect(alpha).toHaveLength(3);
      expect(alpha).toEqual(expect.arrayContaining([completed, rolledBack]));
      expect(alpha).not.toContain(other);
      expect(entries.map((entry) => entry.runId).sort()).toEqual(alpha);
      expect(
        entries
          .map(({ environment, fromVersion, toVersion, phase, startedBy }) =>
            [environment, fromVersion, toVersion, phase, startedBy].join(' '),
          )
          .sort(),
      ).toEqual([
        'alpha 1.2.0 1.3.0 completed hand',
        'alpha 1.2.0 1.3.0 completed schedule',
        'alpha 1.2.0 1.3.1 rolled-back hand',
      ]);
      expect(await listed('AegisEnvironment="alpha" AND AegisPhase="rolled-back"')).toEqual([rolledBack]);
      expect(await listed('AegisFromVersion="1.2.0" AND AegisToVersion="1.3.1"')).toEqual([rolledBack]);
      expect((await history('alpha2')).map((entry) => entry.runId)).toEqual([other]);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'each UI filter of docs/observability.md finds the upgrades its comment says, and no other',
    async () => {
      const doc = await fs.readFile(path.join(REPO_ROOT, 'docs', 'observability.md'), 'utf8');
      const section = doc.slice(doc.indexOf('## In the Temporal UI'), doc.indexOf("A run's current details"));
      const filters = [...section.matchAll(/^(Aegis.+?)\s+# (.+)$/gm)].map(([, filter = '', says = '']) => ({
        filter,
        says,
      }));

      // Upgrades of default and prod that tell the filters apart: ended, waiting at a gate, rolling back.
      const defaultCompleted = await upgrade('default', { targetVersion: '1.3.0' });
      const prodRolledBack = await upgrade(
        'prod',
        { targetVersion: '1.3.0' },
        { fail: [{ activity: 'validatePlatform', type: 'ValidationFailed', message: 'make validate failed' }] },
      );
      const waiting = await startUpgrade(
        client,
        bench.taskQueue,
        { targetVersion: '1.3.1', approveBefore: ['core'] },
        'default',
      );
      bench.standIn.scenario('aegis-upgrade-prod', {
        fail: [{ activity: 'awaitPodReady:temporal', type: 'PodNotReady', message: 'temporal not ready' }],
        hold: 'validatePlatform',
      });
      const rollingBack = await startUpgrade(client, bench.taskQueue, { targetVersion: '1.3.1' }, 'prod');
      await until(() => bench.standIn.holding('aegis-upgrade-prod'));
      const expected: Record<string, string[]> = {
        'every upgrade of an environment': [defaultCompleted, waiting.firstExecutionRunId],
        'the one running now': [waiting.firstExecutionRunId],
        'waiting for `aegis-upgrade approve`': [waiting.firstExecutionRunId],
        'needs a look': [rollingBack.firstExecutionRunId],
        'what failed in prod': [prodRolledBack],
        'every upgrade to 1.3.0, any environment': [defaultCompleted, prodRolledBack],
      };
      const ours = new Set([
        defaultCompleted,
        prodRolledBack,
        waiting.firstExecutionRunId,
        rollingBack.firstExecutionRunId,
      ]);
      // Other tests' upgrades (alpha, delta) may match too: each filter is judged on the runs of this test.
      const found = async () =>
        Object.fromEntries(
          await Promise.all(
            filters.map(async ({ filter, says }) => [says, (await listed(filter)).filter((id) => ours.has(id))]),
          ),
        );
      const sorted = Object.fromEntries(Object.entries(expected).map(([says, ids]) => [says, [...ids].sort()]));
      try {
        await until(async () => JSON.stringify(await found()) === JSON.stringify(sorted), 20_000).catch(
          () => undefined,
        );
        expect(filters.map(({ says }) => says)).toEqual(Object.keys(expected));
        expect(await found()).toEqual(sorted);
      } finally {
        await waiting.terminate();
        bench.standIn.release('aegis-upgrade-prod');
        await rollingBack.result().catch(() => undefined);
      }
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'a rollback shows in AegisPhase and in the current details while it runs',
    async () => {
      const workflowId = 'aegis-upgrade-delta';
      bench.standIn.scenario(workflowId, {
        fail: [{ activity: 'awaitPodReady:temporal', type: 'PodNotReady', message: 'temporal not ready' }],
        hold: 'validatePlatform',
      });
      const handle = await startUpgrade(client, bench.taskQueue, { targetVersion: '1.3.0' }, 'delta');
      await until(() => bench.standIn.holding(workflowId));

      const running = await handle.describe();
      const { currentDetails } = await handle.query(workflowMetadataQuery);
      bench.standIn.release(workflowId);
      await handle.result().catch(() => undefined);

      expect(running.typedSearchAttributes.get(AegisPhase)).toBe('rolling-back');
      expect(currentDetails?.split('\n\n')).toEqual([
        '**AEGIS upgrade of delta: 1.2.0 → 1.3.0**',
        'Phase: rolling-back',
        expect.stringMatching(/^Rollback step 8 of 8: Validate the platform again \(since .+Z\)$/),
        'Failed: Redeploy temporal: temporal not ready',
      ]);
      expect((await handle.describe()).typedSearchAttributes.get(AegisPhase)).toBe('rolled-back');
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'an upgrade from before the attributes: history finds it by its ID and memo, the attribute filter does not',
    async () => {
      const started = (workflowId: string, environment: string) =>
        client.workflow.start(UPGRADE_WORKFLOW_TYPE, {
          // No worker polls this queue: the run keeps the attributes it was started with, none.
          taskQueue: 'nobody-polls',
          workflowId,
          args: [{ targetVersion: '1.3.0' }],
          memo: { environment, toVersion: '1.3.0' },
        });
      const old = await started('aegis-upgrade-epsilon', 'epsilon');
      const neighbour = await started('aegis-upgrade-epsilon2', 'epsilon2');
      try {
        await until(async () => (await listed("WorkflowId STARTS_WITH 'aegis-upgrade-epsilon'")).length === 2);

        expect((await history('epsilon')).map(({ runId, phase }) => [runId, phase])).toEqual([
          [old.firstExecutionRunId, 'running'],
        ]);
        expect(await listed('AegisEnvironment="epsilon"')).toEqual([]);
      } finally {
        await Promise.all([old.terminate(), neighbour.terminate()]);
      }
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'setup registers the attributes once; until then start and the worker say to run it',
    async () => {
      const namespace = 'bare';
      await createNamespace(namespace);
      // A new namespace reaches the server's caches within seconds.
      await until(
        async () => (await aegisUpgrade(['history'], namespace)).stderr.includes('does not know the search attribute'),
        30_000,
      );

      // No worker polls in this namespace: sent all the same, for the attributes' refusal.
      const refused = await aegisUpgrade(['start', '1.3.0', '--allow-no-worker'], namespace);
      const worker = await aegisUpgrade(['worker'], namespace);
      const first = await aegisUpgrade(['setup'], namespace);
      const again = await aegisUpgrade(['setup'], namespace);

      expect([refused.exitCode, refused.stderr]).toEqual([
        2,
        'aegis-upgrade: The Temporal namespace does not know the search attribute AegisEnvironment: run ' +
          '`aegis-upgrade setup` once to register the attributes upgrades are found by',
      ]);
      // The worker refuses to start: each upgrade's first workflow task would fail, for ever, on the attributes.
      expect([worker.exitCode, worker.stderr]).toEqual([
        2,
        'aegis-upgrade: Namespace bare lacks the search attributes AegisEnvironment, AegisFromVersion, ' +
          'AegisToVersion, AegisPhase that upgrades keep their environment, versions and phase in: run ' +
          '`aegis-upgrade setup` once (with the same connection settings), then start the worker again',
      ]);
      expect([first.exitCode, first.stdout]).toEqual([
        0,
        'Registered on namespace bare: AegisEnvironment, AegisFromVersion, AegisToVersion, AegisPhase',
      ]);
      expect([again.exitCode, again.stdout]).toEqual([
        0,
        'Already registered on namespace bare: AegisEnvironment, AegisFromVersion, AegisToVersion, AegisPhase',
      ]);
      const { stdout } = await execa(temporal, [
        ...['operator', 'search-attribute', 'list', '--address', bench.server.address, '--namespace', namespace],
      ]);
      for (const name of ['AegisEnvironment', 'AegisFromVersion', 'AegisToVersion', 'AegisPhase']) {
        expect(stdout).toMatch(new RegExp(`${name}\\s+Keyword`));
      }
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'setup refuses an attribute of ours registered with another type',
    async () => {
      const namespace = 'clash';
      await createNamespace(namespace);
      await until(async () => {
        const added = await execa(
          temporal,
          [
            ...['operator', 'search-attribute', 'create', '--address', bench.server.address],
            ...['--namespace', namespace, '--name', 'AegisPhase', '--type', 'Int'],
          ],
          { reject: false },
        );
        return added.exitCode === 0;
      }, 30_000);

      const refused = await aegisUpgrade(['setup'], namespace);

      expect([refused.exitCode, refused.stderr]).toEqual([
        2,
        'aegis-upgrade: AegisPhase is registered on namespace clash as Int, not Keyword: aegis-upgrade cannot use ' +
          'it. If nothing else uses such an attribute, remove it (`temporal operator search-attribute remove --name ' +
          'NAME`) and run `aegis-upgrade setup` again',
      ]);
    },
    TEST_TIMEOUT_MS,
  );
});

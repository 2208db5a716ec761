import { WorkflowFailedError } from '@temporalio/client';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as commands from '../../src/cli/commands';
import { ApplicationFailure } from '@temporalio/common';
import { taskQueueFor } from '../../src/core/environments';
import { AegisEnvironment } from '../../src/core/search-attributes';
import { FleetFailureType, fleetProgressQuery, type FleetProgress } from '../../src/core/fleet';
import { UPGRADE_WORKFLOW_TYPE, upgradeWorkflowId, type UpgradeRequest } from '../../src/core/upgrade';
import { FROM_VERSION, startStandInFleet, type StandInEnvironment, type StandInFleet } from '../helpers/fleet';
import { until } from '../helpers/stand-in-activities';

const SETUP_TIMEOUT_MS = 2 * 60_000;
const TEST_TIMEOUT_MS = 60_000;

/** A fleet's failure: its type, its message, and the progress it ended with. */
async function fleetFailure(
  result: Promise<unknown>,
): Promise<{ type?: string; message: string; progress: FleetProgress }> {
  const error = await result.then(
    () => new Error('Expected the fleet to fail, but it completed'),
    (failure: unknown) => failure,
  );
  if (!(error instanceof WorkflowFailedError) || !(error.cause instanceof ApplicationFailure)) throw error;
  const { type, message, details } = error.cause;
  return { type: type ?? undefined, message, progress: details?.[0] as FleetProgress };
}

const phases = (progress: FleetProgress) =>
  Object.fromEntries(progress.environments.map((entry) => [entry.environment, [entry.wave, entry.phase]]));

/** Three environments, each with its own stand-in worker on its own queue, and the fleet on the shared fleet queue. */
describe('upgradeFleet on stand-in environments', () => {
  let fleet: StandInFleet;
  const names = ['canary', 'eu', 'us'];
  const the = (name: string): StandInEnvironment => {
    const environment = fleet.environments.get(name);
    if (!environment) throw new Error(`no environment ${name}`);
    return environment;
  };

  beforeAll(async () => {
    fleet = await startStandInFleet(names);
  }, SETUP_TIMEOUT_MS);
  afterAll(async () => fleet?.close());
  beforeEach(() => {
    for (const name of names) {
      the(name).version = FROM_VERSION;
      the(name).healthProblems = [];
      the(name).scenario();
    }
  });

  test(
    'a canary, then a wave of 2: all reach the version, each on its own queue, and fleetProgress shows the phases',
    async () => {
      // The canary waits at its pre-flight until the test has looked at the fleet's progress.
      the('canary').scenario({ hold: 'checkPreflight' });
      const handle = await fleet.startFleet('all-complete', {
        targetVersion: '1.3.0',
        environments: names,
        bake: '1 second',
      });
      await until(() => the('canary').standIn.holding(upgradeWorkflowId('canary')));
      expect(phases(await handle.query(fleetProgressQuery))).toEqual({
        canary: [0, 'upgrading'],
        eu: [1, 'pending'],
        us: [1, 'pending'],
      });
      the('canary').standIn.release(upgradeWorkflowId('canary'));

      const result = await handle.result();
      expect(result).toMatchObject({ phase: 'completed', waves: 2, run: 2 });
      expect(phases(result)).toEqual({ canary: [0, 'completed'], eu: [1, 'completed'], us: [1, 'completed'] });
      expect(result.environments.map((entry) => entry.fromVersion)).toEqual([FROM_VERSION, FROM_VERSION, FROM_VERSION]);
      for (const name of names) {
        expect(the(name).version).toBe('1.3.0');
        // Its upgrade is its usual one: its ID, its queue, its own worker's stand-ins.
        const child = await fleet.client.workflow.getHandle(upgradeWorkflowId(name)).describe();
        expect(child.taskQueue).toBe(taskQueueFor(name, fleet.defaultQueue));
        expect(child.status.name).toBe('COMPLETED');
        expect(child.memo).toMatchObject({ environment: name, toVersion: '1.3.0', outcome: 'completed' });
        expect(child.typedSearchAttributes.get(AegisEnvironment)).toBe(name);
        expect(the(name).standIn.calls(upgradeWorkflowId(name))).toContain('validatePlatform');
        expect(the(name).healthChecks).toBeGreaterThan(0);
      }
      // The fleet continued as new between its waves: one run per wave.
      const first = await fleet.client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId).describe();
      expect(first.status.name).toBe('CONTINUED_AS_NEW');
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'wave 2 over a budget of 0 with roll-back-wave: the failed one rolled back, the other one taken back, the canary kept',
    async () => {
      the('eu').scenario({
        fail: [{ activity: 'validatePlatform', type: 'ValidationFailed', message: 'Validation failed: ✗ Runtime API' }],
      });
      const handle = await fleet.startFleet('roll-back-wave', {
        targetVersion: '1.3.0',
        environments: names,
        failureBudget: 0,
        onBudgetExceeded: 'roll-back-wave',
        restoreDatabaseOnWaveRollback: true,
        maxConcurrent: 2,
      });
      const failure = await fleetFailure(handle.result());

      expect(failure.type).toBe(FleetFailureType.FleetRolledBack);
      expect(phases(failure.progress)).toEqual({
        canary: [0, 'completed'],
        eu: [1, 'rolled-back'],
        us: [1, 'rolled-back'],
      });
      expect(failure.message).toContain('wave 2 of 2 went over its failure budget of 0');
      expect(failure.message).toMatch(
        /Failed: none\. Rolled back: eu \(Upgrade 1\.2\.0 → 1\.3\.0 rolled back: validate failed/,
      );
      expect(failure.message).toMatch(/\), us\. Upgraded: canary\. Never started: none$/);
      expect([the('canary').version, the('eu').version, the('us').version]).toEqual([
        '1.3.0',
        FROM_VERSION,
        FROM_VERSION,
      ]);

      // us completed, then went back by a second upgrade of its own ID: to its previous version, restoring the backup
      // of its upgrade (its schema moved: the stand-in runtime applies migration 2).
      const requests = the('us').standIn.inputs(upgradeWorkflowId('us'), 'checkPreflight') as {
        request: UpgradeRequest;
      }[];
      expect(requests.map(({ request }) => [request.targetVersion, request.restoreFrom])).toEqual([
        ['1.3.0', undefined],
        [FROM_VERSION, expect.stringMatching(/^\d{8}T\d{6}Z-1\.2\.0-to-1\.3\.0$/)],
      ]);
      expect(the('us').standIn.calls(upgradeWorkflowId('us'))).toContain('restoreDatabase');
      expect(failure.progress.environments.find((entry) => entry.environment === 'us')?.detail).toMatch(
        /^rolled back by the fleet to 1\.2\.0, database restored from \d{8}T/,
      );
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'roll-back-wave after a release that applied no migration: the healthy one goes back too, past the real downgrade rule',
    async () => {
      the('eu').scenario({
        fail: [{ activity: 'validatePlatform', type: 'ValidationFailed', message: 'Validation failed: ✗ Runtime API' }],
      });
      the('us').scenario({ overrides: { awaitMigrations: async () => [] } });
      const handle = await fleet.startFleet('no-migration', {
        targetVersion: '1.3.0',
        environments: names,
        onBudgetExceeded: 'roll-back-wave',
      });
      const failure = await fleetFailure(handle.result());

      expect(failure.type).toBe(FleetFailureType.FleetRolledBack);
      expect(phases(failure.progress)).toEqual({
        canary: [0, 'completed'],
        eu: [1, 'rolled-back'],
        us: [1, 'rolled-back'],
      });
      expect([the('eu').version, the('us').version]).toEqual([FROM_VERSION, FROM_VERSION]);
      // Not asked to restore: its downgrade names its backup, restored only if the schema moved (it did not).
      const restores = the('us').standIn.inputs(upgradeWorkflowId('us'), 'restoreDatabase');
      expect(restores).toEqual([expect.objectContaining({ policy: 'auto' })]);
      expect(failure.progress.environments.find((entry) => entry.environment === 'us')?.detail).toBe(
        'rolled back by the fleet to 1.2.0, its data kept',
      );
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'roll-back-wave without restoreDatabaseOnWaveRollback keeps what a migrated environment wrote: it stops, naming the choice',
    async () => {
      the('eu').scenario({
        fail: [{ activity: 'validatePlatform', type: 'ValidationFailed', message: 'Validation failed: ✗ Runtime API' }],
      });
      const handle = await fleet.startFleet('keeps-data', {
        targetVersion: '1.3.0',
        environments: names,
        onBudgetExceeded: 'roll-back-wave',
      });
      const failure = await fleetFailure(handle.result());
      expect(failure.type).toBe(FleetFailureType.FleetStopped);
      expect(phases(failure.progress)).toEqual({
        canary: [0, 'completed'],
        eu: [1, 'rolled-back'],
        us: [1, 'completed'],
      });
      expect(failure.message).toMatch(
        /not rolled back, as their upgrade migrated the schema: us \(backup \d{8}T\d{6}Z-1\.2\.0-to-1\.3\.0\)\. Going back restores that backup and discards every write since it was taken/,
      );
      expect(failure.message).toContain('`restoreDatabaseOnWaveRollback`; else they stay on 1.3.0');
      expect(the('us').version).toBe('1.3.0');
      expect(the('us').standIn.calls(upgradeWorkflowId('us'))).not.toContain('restoreDatabase');
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'a failed canary stops the fleet whatever `failureBudget` the later waves have: the canary has its own, 0',
    async () => {
      the('canary').scenario({
        fail: [{ activity: 'validatePlatform', type: 'ValidationFailed', message: 'Validation failed: ✗ Runtime API' }],
      });
      const handle = await fleet.startFleet('canary-budget', {
        targetVersion: '1.3.0',
        environments: names,
        failureBudget: 1,
      });
      const failure = await fleetFailure(handle.result());
      expect(failure.type).toBe(FleetFailureType.FleetStopped);
      expect(failure.message).toContain("wave 1 of 2 (the canary's) went over its failure budget of 0");
      expect(phases(failure.progress)).toEqual({ canary: [0, 'rolled-back'], eu: [1, 'skipped'], us: [1, 'skipped'] });
      expect([the('eu').version, the('us').version]).toEqual([FROM_VERSION, FROM_VERSION]);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "an environment whose rollback by the fleet failed is in the summary's Failed list, every environment in one list",
    async () => {
      the('eu').scenario({
        fail: [{ activity: 'validatePlatform', type: 'ValidationFailed', message: 'Validation failed: ✗ Runtime API' }],
      });
      // Its upgrade calls no restoreDatabase: the first call is the fleet's rollback restoring its backup.
      the('us').scenario({
        fail: [{ activity: 'restoreDatabase', type: 'BackupInvalid', message: 'dump checksum mismatch' }],
      });
      const handle = await fleet.startFleet('rollback-failed', {
        targetVersion: '1.3.0',
        environments: names,
        onBudgetExceeded: 'roll-back-wave',
        restoreDatabaseOnWaveRollback: true,
      });
      const failure = await fleetFailure(handle.result());
      expect(phases(failure.progress)).toEqual({ canary: [0, 'completed'], eu: [1, 'rolled-back'], us: [1, 'failed'] });
      expect(failure.message).toMatch(/Failed: us \(the fleet's rollback to 1\.2\.0 failed: .*dump checksum mismatch/);
      expect(failure.message).toMatch(
        /Rolled back: eu \(Upgrade 1\.2\.0 → 1\.3\.0 rolled back: validate failed.*\)\. Upgraded: canary\. Never started: none$/,
      );
      for (const name of names) expect(failure.message.split(name)).toHaveLength(2);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'health lost while baking counts against the budget; with stop, the rest is left as it is and never started',
    async () => {
      the('eu').healthProblems = ['aegis-core: runtime answers 503'];
      const handle = await fleet.startFleet('stop', {
        targetVersion: '1.3.0',
        environments: names,
        canary: ['eu'],
        bake: '1 second',
      });
      const failure = await fleetFailure(handle.result());
      expect(failure.type).toBe(FleetFailureType.FleetStopped);
      expect(phases(failure.progress)).toEqual({ eu: [0, 'failed'], canary: [1, 'skipped'], us: [1, 'skipped'] });
      expect(failure.message).toContain('Failed: eu (health lost while baking: aegis-core: runtime answers 503)');
      expect(failure.message).toContain('Never started: canary, us');
      expect(the('eu').version).toBe('1.3.0');
      expect(the('us').version).toBe(FROM_VERSION);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'an environment whose upgrade runs already (started by hand) is a failure of its wave: the fleet starts none there',
    async () => {
      the('us').scenario({ hold: 'checkPreflight' });
      const byHand = await fleet.client.workflow.start(UPGRADE_WORKFLOW_TYPE, {
        taskQueue: taskQueueFor('us', fleet.defaultQueue),
        workflowId: upgradeWorkflowId('us'),
        args: [{ targetVersion: '1.3.1' }],
      });
      await until(() => the('us').standIn.holding(upgradeWorkflowId('us')));
      const handle = await fleet.startFleet('busy', { targetVersion: '1.3.0', environments: names, canary: ['us'] });
      const failure = await fleetFailure(handle.result());
      expect(failure.type).toBe(FleetFailureType.FleetStopped);
      expect(failure.message).toContain(
        'Failed: us (another upgrade of us is running (aegis-upgrade-us): the fleet started none)',
      );
      expect(failure.message).toContain('Never started: canary, eu');
      the('us').standIn.release(upgradeWorkflowId('us'));
      await expect(byHand.result()).resolves.toMatchObject({ phase: 'completed', toVersion: '1.3.1' });
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "an environment whose worker is down counts against the budget once its upgrade's start deadline passes",
    async () => {
      // No worker polls ghost's queue: its upgrade is started on the server and never taken.
      const handle = await fleet.startFleet('worker-down', {
        targetVersion: '1.3.0',
        environments: ['eu', 'ghost'],
        canary: [],
        upgradeStartDeadline: '5 seconds',
      });
      const failure = await fleetFailure(handle.result());
      expect(failure.type).toBe(FleetFailureType.FleetStopped);
      expect(phases(failure.progress)).toEqual({ eu: [0, 'completed'], ghost: [0, 'failed'] });
      expect(failure.message).toContain(
        `Failed: ghost (its upgrade did not start within 5 seconds: no worker took it from queue ` +
          `${taskQueueFor('ghost', fleet.defaultQueue)}; aegis-upgrade-ghost was cancelled)`,
      );
      expect(the('eu').version).toBe('1.3.0');
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'fleet abort ends a wave that waits for an upgrade no worker takes',
    async () => {
      const handle = await fleet.startFleet('abort-waiting', {
        targetVersion: '1.3.0',
        environments: ['gone', 'eu'],
        upgradeStartDeadline: '1 hour',
      });
      await until(async () => phases(await handle.query(fleetProgressQuery)).gone?.[1] === 'upgrading');
      await handle.cancel();
      const failure = await fleetFailure(handle.result());
      expect(failure.type).toBe(FleetFailureType.FleetStopped);
      expect(failure.message).toContain('an operator aborted it');
      expect(phases(failure.progress)).toEqual({ gone: [0, 'skipped'], eu: [1, 'skipped'] });
      expect(failure.message).toContain(
        'Never started: gone (the fleet was aborted before a worker took its upgrade; aegis-upgrade-gone was cancelled), eu',
      );
      expect(the('eu').version).toBe(FROM_VERSION);
    },
    TEST_TIMEOUT_MS,
  );

  test('a request that is no fleet is refused before anything starts', async () => {
    const handle = await fleet.startFleet('refused', { targetVersion: '1.3.0', environments: [], waveShare: 'half' });
    const failure = await fleetFailure(handle.result());
    expect(failure.progress).toBeUndefined();
    expect(failure.type).toBe(FleetFailureType.FleetRefused);
    expect(failure.message).toBe(
      'Fleet request refused, nothing was started: Expected `environments` to list at least one environment; ' +
        'Expected `waveShare` to be a share of the fleet like 25%, got `"half"`',
    );
  });

  describe('operated from the CLI', () => {
    const savedEnv = { ...process.env };
    let config: string;
    beforeAll(async () => {
      // The CLI reads its settings from the environment, as an operator's shell gives them; no profile file.
      config = await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-fleet-cli-'));
      for (const name of Object.keys(process.env)) if (name.startsWith('TEMPORAL_')) delete process.env[name];
      Object.assign(process.env, {
        TEMPORAL_ADDRESS: fleet.server.address,
        AEGIS_TASK_QUEUE: fleet.defaultQueue,
        XDG_CONFIG_HOME: config,
      });
    });
    afterAll(async () => {
      process.env = savedEnv;
      await fs.rm(config, { recursive: true, force: true });
    });

    /** `aegis-upgrade fleet …` in this process, its output kept out of the test's. */
    const cli = async (run: () => Promise<number>): Promise<{ exitCode: number; printed: string }> => {
      const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
      try {
        const exitCode = await run();
        return { exitCode, printed: log.mock.calls.map((call) => call.join(' ')).join('\n') };
      } finally {
        log.mockRestore();
      }
    };
    const options = { envs: names.join(','), approveBetweenWaves: true };

    test(
      'fleet start, status while it waits, approve: it completes; status says so',
      async () => {
        const started = await cli(() => commands.fleetStart('1.3.0', { ...options, name: 'cli' }));
        expect(started).toEqual({ exitCode: 0, printed: expect.stringMatching(/^Started aegis-fleet-cli \(run /) });
        const again = cli(() => commands.fleetStart('1.3.0', { ...options, name: 'cli' }));
        await expect(again).rejects.toThrow('Fleet aegis-fleet-cli is already running');

        await until(async () => (await cli(() => commands.fleetStatus({ name: 'cli' }))).printed.includes('waiting'));
        const waiting = await cli(() => commands.fleetStatus({ name: 'cli' }));
        expect(waiting.printed).toMatch(/^Fleet to 1\.3\.0: waiting-for-approval, wave 2 of 2$/m);
        expect(waiting.printed).toMatch(/^ {2}canary\s+wave 1 {2}completed\s+from 1\.2\.0$/m);
        expect(waiting.printed).toMatch(/^ {2}eu\s+wave 2 {2}pending$/m);
        expect(the('eu').version).toBe(FROM_VERSION);

        expect(await cli(() => commands.fleetApprove({ name: 'cli', by: 'ana@ops-1' }))).toEqual({
          exitCode: 0,
          printed: 'Approved by ana@ops-1: wave 2 of 2 of aegis-fleet-cli',
        });
        await fleet.client.workflow.getHandle('aegis-fleet-cli').result();
        const done = await cli(() => commands.fleetStatus({ name: 'cli', json: true }));
        expect(done.exitCode).toBe(0);
        expect(JSON.parse(done.printed)).toMatchObject({ phase: 'completed', environments: expect.any(Array) });
        expect(the('us').version).toBe('1.3.0');
        await expect(cli(() => commands.fleetApprove({ name: 'cli', by: 'ana@ops-1' }))).rejects.toThrow();
      },
      TEST_TIMEOUT_MS,
    );

    test(
      "fleet status shows, within a minute, an environment whose queue no worker polls; abort ends the fleet's wait",
      async () => {
        const started = await cli(() =>
          commands.fleetStart('1.3.0', { envs: 'nobody', name: 'no-worker', upgradeStartDeadline: '1 hour' }),
        );
        expect(started.exitCode).toBe(0);
        const queue = taskQueueFor('nobody', fleet.defaultQueue);
        const shown = `no worker polls its queue ${queue} (none in the last minute): start its worker`;
        await until(
          async () => (await cli(() => commands.fleetStatus({ name: 'no-worker' }))).printed.includes(shown),
          60_000,
        );
        const status = await cli(() => commands.fleetStatus({ name: 'no-worker', json: true }));
        expect(JSON.parse(status.printed)).toMatchObject({ unpolled: [{ environment: 'nobody', taskQueue: queue }] });

        expect((await cli(() => commands.fleetAbort({ name: 'no-worker' }))).exitCode).toBe(0);
        const failure = await fleetFailure(fleet.client.workflow.getHandle('aegis-fleet-no-worker').result());
        expect(failure.type).toBe(FleetFailureType.FleetStopped);
        expect(phases(failure.progress)).toEqual({ nobody: [0, 'skipped'] });
      },
      2 * TEST_TIMEOUT_MS,
    );

    test(
      'fleet abort at the wait between waves: it ends FleetStopped, the next wave never started',
      async () => {
        expect((await cli(() => commands.fleetStart('1.3.0', { ...options, name: 'aborted' }))).exitCode).toBe(0);
        const handle = fleet.client.workflow.getHandle('aegis-fleet-aborted');
        await until(async () => (await handle.query(fleetProgressQuery)).phase === 'waiting-for-approval');
        await expect(cli(() => commands.fleetApprove({ name: 'nothing-here', by: 'ana@ops-1' }))).rejects.toThrow();

        expect((await cli(() => commands.fleetAbort({ name: 'aborted' }))).exitCode).toBe(0);
        const failure = await fleetFailure(handle.result());
        expect(failure.type).toBe(FleetFailureType.FleetStopped);
        expect(failure.message).toContain('an operator aborted it');
        expect(failure.message).toContain('Upgraded: canary. Never started: eu, us');
        const status = await cli(() => commands.fleetStatus({ name: 'aborted' }));
        expect(status.exitCode).toBe(1);
        expect(status.printed).toContain('FleetStopped: Fleet to 1.3.0 stopped');
        expect(the('eu').version).toBe(FROM_VERSION);
      },
      TEST_TIMEOUT_MS,
    );
  });
});

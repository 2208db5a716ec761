import { type WorkflowFailedError, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readLock } from '../../src/host/lock-file';
import { COMPONENT_WORKFLOW_TYPE, type ComponentUpgradeRequest } from '../../src/core/components';
import { approveWaveSignal, fleetProgressQuery, type FleetProgress } from '../../src/core/fleet';
import { UpgradeFailureType, type UpgradeReport } from '../../src/core/upgrade';
import {
  UNLOCK_WORKFLOW_TYPE,
  UnlockFailureType,
  type UnlockReport,
  type UnlockRequest,
} from '../../src/core/upgrade-lock';
import { startStandInFleet, type StandInFleet } from '../helpers/fleet';
import { recordEveryRun, recordHistory } from '../helpers/histories';
import { upgradeFailure } from '../helpers/platform';
import { startStandInServer, until, type StandInScenario, type StandInServer } from '../helpers/stand-in-activities';

const SETUP_TIMEOUT_MS = 2 * 60_000;
const TEST_TIMEOUT_MS = 60_000;

/**
 * The fleet, component upgrade and unlock workflows on the real dev server with stand-in activities, each to an ending
 * a worker upgrade may find in flight; with AEGIS_RECORD_HISTORIES=1 their histories are written to test/histories/
 * for the replay test (the platform upgrade's come from upgrade-scenarios and the sandbox tests; the fleet whose bakes
 * continue as new, `fleet-rolled-back`, from fleet-history).
 */
describe('histories of the fleet, component and unlock workflows', () => {
  describe('a fleet, one run a wave', () => {
    let fleet: StandInFleet;
    beforeAll(async () => {
      fleet = await startStandInFleet(['canary', 'eu', 'us']);
    }, SETUP_TIMEOUT_MS);
    afterAll(async () => fleet?.close());

    test(
      'fleet-approved: the canary, an approval between waves, then the rest: two runs, completed',
      async () => {
        const handle = await fleet.startFleet('approved', {
          targetVersion: '1.3.0',
          environments: ['canary', 'eu', 'us'],
          bake: '1 second',
          approveBetweenWaves: true,
        });
        await until(async () => (await handle.query(fleetProgressQuery)).phase === 'waiting-for-approval');
        await handle.signal(approveWaveSignal);
        const progress: FleetProgress = await handle.result();
        expect(progress).toMatchObject({ phase: 'completed', run: 2 });
        await recordEveryRun(handle, 'fleet-approved');
      },
      TEST_TIMEOUT_MS,
    );
  });

  describe('component upgrades', () => {
    let bench: StandInServer;
    beforeAll(async () => {
      bench = await startStandInServer();
    }, SETUP_TIMEOUT_MS);
    afterAll(async () => bench?.close());

    const start = (name: string, request: ComponentUpgradeRequest, scenario: StandInScenario = {}) => {
      const workflowId = `aegis-upgrade-${name}`;
      bench.standIn.scenario(workflowId, scenario);
      return bench.client.workflow.start(COMPONENT_WORKFLOW_TYPE, {
        taskQueue: bench.taskQueue,
        workflowId,
        args: [request],
      });
    };
    const failing = (activity: string): StandInScenario => ({
      fail: [{ activity, type: 'ValidationFailed', message: `${activity} failed` }],
    });

    test(
      'component-postgres-minor-completed',
      async () => {
        const handle = await start('component-postgres-minor', { component: 'postgres', targetVersion: '15.10' });
        const report: UpgradeReport = await handle.result();
        expect(report.phase).toBe('completed');
        await recordHistory(handle, 'component-postgres-minor-completed');
      },
      TEST_TIMEOUT_MS,
    );

    test(
      'component-postgres-major-rolled-back: validation fails on the new cluster, its clients stopped and all undone',
      async () => {
        const handle = await start(
          'component-postgres-major',
          { component: 'postgres', targetVersion: '16' },
          failing('validatePlatform'),
        );
        const failure = await upgradeFailure(handle.result());
        expect(failure.type).toBe(UpgradeFailureType.UpgradeRolledBack);
        expect(failure.report.phase).toBe('rolled-back');
        await recordHistory(handle, 'component-postgres-major-rolled-back');
      },
      TEST_TIMEOUT_MS,
    );

    test(
      'component-temporal-rolled-back: the new server fails its check, both databases restored',
      async () => {
        const handle = await start(
          'component-temporal',
          { component: 'temporal', targetVersion: '1.23' },
          failing('verifyTemporalServer'),
        );
        const failure = await upgradeFailure(handle.result());
        expect(failure.type).toBe(UpgradeFailureType.UpgradeRolledBack);
        expect(failure.report.databaseRestored).toBe(true);
        await recordHistory(handle, 'component-temporal-rolled-back');
      },
      TEST_TIMEOUT_MS,
    );
  });

  describe('unlocks, on the real lock activities', () => {
    let bench: StandInServer;
    let root: string;
    beforeAll(async () => {
      root = await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-upgrade-histories-'));
      bench = await startStandInServer({ lockRoot: root });
    }, SETUP_TIMEOUT_MS);
    afterAll(async () => {
      await bench?.close();
      if (root) await fs.rm(root, { recursive: true, force: true });
    });

    const REQUEST: UnlockRequest = { clearedBy: 'tester@ci', reason: 'recorded for the replay test' };
    const unlock = (name: string) =>
      bench.client.workflow.start(UNLOCK_WORKFLOW_TYPE, {
        taskQueue: bench.taskQueue,
        workflowId: `aegis-unlock-${name}`,
        args: [REQUEST],
      });
    /** An upgrade of `name` that holds the lock: its pull never ends. */
    const holding = async (name: string): Promise<WorkflowHandleWithFirstExecutionRunId> => {
      const upgrade = await bench.start(`aegis-upgrade-${name}`, { targetVersion: '1.3.0' }, { hold: 'pullImages' });
      await until(async () => {
        const found = await readLock(root);
        return found.state === 'held' && found.lock.runId === upgrade.firstExecutionRunId;
      });
      return upgrade;
    };

    test(
      'unlock-free: nothing to clear',
      async () => {
        const handle = await unlock('free');
        await expect(handle.result()).resolves.toEqual({ path: path.join(root, '.aegis-upgrade.lock') });
        await recordHistory(handle, 'unlock-free');
      },
      TEST_TIMEOUT_MS,
    );

    test(
      'unlock-refused: the upgrade holding the lock still runs',
      async () => {
        const upgrade = await holding('busy');
        const handle = await unlock('refused');
        const error: unknown = await handle.result().catch((thrown: unknown) => thrown);
        expect((error as WorkflowFailedError).cause).toMatchObject({ type: UnlockFailureType.UnlockRefused });
        await recordHistory(handle, 'unlock-refused');
        await upgrade.terminate('test cleanup');
        await fs.rm(path.join(root, '.aegis-upgrade.lock'), { force: true });
      },
      TEST_TIMEOUT_MS,
    );

    test(
      'unlock-cleared: the lock of a terminated upgrade cleared, who and why recorded',
      async () => {
        const upgrade = await holding('terminated');
        await upgrade.terminate('operator gave up');
        const handle = await unlock('cleared');
        const report: UnlockReport = await handle.result();
        expect(report.cleared).toMatchObject({ ownerStatus: 'TERMINATED', clearedBy: 'tester@ci' });
        await expect(readLock(root)).resolves.toMatchObject({ state: 'free' });
        await recordHistory(handle, 'unlock-cleared');
      },
      TEST_TIMEOUT_MS,
    );
  });
});

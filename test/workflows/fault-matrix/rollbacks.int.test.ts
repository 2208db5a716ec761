import fs from 'node:fs/promises';
import path from 'node:path';
import { UpgradeFailureType, approveSignal, progressQuery, upgradeWorkflowId } from '../../../src/core/upgrade';
import { type Fault } from '../../helpers/faults';
import { dumpEveryDatabase, psql, startUpgrade, upgradeFailure, waitFor } from '../../helpers/platform';
import { recordHistory } from '../../helpers/histories';
import { SCENARIO_TIMEOUT_MS, ROLLBACK_KILLS, matrixRequest, useFaultMatrix } from '../../helpers/fault-matrix';

/**
 * The fault matrix, part rollbacks: a worker killed inside each rollback step, and outages during an upgrade.
 * What the parts share is in test/helpers/fault-matrix.ts; each part runs on a sandbox of its own when lanes run.
 */
describe('the fault matrix on the sandbox: rollbacks', () => {
  const {
    platform,
    faults,
    tally,
    aegisUpgrade,
    eachScenario,
    platformState,
    expectRolledBack,
    expectNoChangeTwice,
    expectCompleted,
    killInside,
    expectNoSecretPrinted,
  } = useFaultMatrix('rollbacks');

  describe('a worker killed inside a rollback step is replaced and the rollback completes', () => {
    eachScenario();

    test.each(ROLLBACK_KILLS)(
      'SIGKILL inside $step of the rollback of 1.3.1 → UpgradeRolledBack, everything as before',
      async ({ step, pause, armed }) => {
        const before = await platformState();
        const fault: Fault = { action: 'pause', command: pause };
        if (!armed) await faults.add(fault);
        const handle = await startUpgrade(platform, matrixRequest('1.3.1', step));
        if (armed) {
          await waitFor(async () => (await handle.query(progressQuery)).phase === 'rolling-back');
          await faults.add(fault);
        }
        await killInside(handle, fault, step);
        await expectRolledBack(handle, 'migrations', before);
        // The rollback of 1.3.1 brings back the runtime of 1.2.0 with one redeploy, whatever step the kill was in.
        await expectNoChangeTwice({
          killed: true,
          including: [/^make .* redeploy POD=core .*AEGIS_IMAGE_TAG=1\.2\.0$/],
        });
        await recordHistory(handle, `platform-killed-in-${step.replace(/:/g, '-')}`);
      },
      SCENARIO_TIMEOUT_MS,
    );
  });

  describe('outages and writes during an upgrade', () => {
    eachScenario();

    test(
      'an abort while a downgrade restores its backup → the rollback waits for the restore to end; back on 1.3.0, identical',
      async () => {
        const upgraded = await expectCompleted(await startUpgrade(platform, { targetVersion: '1.3.0' }));
        const before = await platformState();
        // The restore's commands do not see the cancellation: held here, the restore goes on once released.
        const held: Fault = { action: 'pause', command: 'podman exec * pg_restore -U *' };
        await faults.add(held);
        const restoreFrom = path.basename(upgraded.backup?.location ?? '');
        const handle = await startUpgrade(platform, { targetVersion: '1.2.0', restoreFrom });
        await faults.paused();
        expect((await handle.query(progressQuery)).steps.find((step) => step.id === 'restore-from')?.status).toBe(
          'running',
        );

        await handle.cancel();
        await new Promise((resolve) => setTimeout(resolve, 10_000));
        const rollbackWhileHeld = (await handle.query(progressQuery)).rollback.filter(
          (step) => step.status !== 'pending',
        );
        await faults.remove(held);

        expect(rollbackWhileHeld).toEqual([]);
        // The restore ends whole; the cancellation stops the next step, and the rollback restores the downgrade's backup.
        await expectRolledBack(handle, 'redeploy:core', before);
      },
      SCENARIO_TIMEOUT_MS,
    );

    test(
      'the registry gone while the rollback redeploys → the rollback retries (status shows it) and completes when it is back',
      async () => {
        const before = await platformState();
        const held: Fault = { action: 'pause', command: 'make * redeploy POD=database *AEGIS_IMAGE_TAG=1.2.0' };
        await faults.add(held);
        const workflowId = upgradeWorkflowId('default');
        const request = matrixRequest('1.3.1', 'rollback:redeploy:database');
        const handle = await startUpgrade(platform, request, workflowId);
        await faults.paused();
        await faults.knob('registry-down');
        await faults.remove(held);
        let status = '';
        await waitFor(async () => {
          status = (await aegisUpgrade(['status', '--env', 'default'])).stdout;
          return /retrying .*attempt [2-9]/.test(status);
        }, 120_000);
        expect(status).toContain('registry-login');
        await faults.knob('registry-up');
        await expectRolledBack(handle, 'migrations', before);
      },
      SCENARIO_TIMEOUT_MS,
    );

    test(
      'a row written while the upgrade waits at a gate survives the rollback; the report says what was discarded',
      async () => {
        const baseline = await platformState();
        const handle = await startUpgrade(platform, { targetVersion: '1.3.1', approveBefore: ['core'] });
        await waitFor(async () => (await handle.query(progressQuery)).phase === 'waiting-for-approval');
        await psql(
          "insert into agents (id, name, version, status, manifest) values ('a0000000-0000-4000-8000-00000000ab1e', 'written-at-the-gate', '1.0.0', 'active', '{}')",
        );
        const atTheGate = await dumpEveryDatabase();
        const approvedAt = Date.now();
        await handle.signal(approveSignal);
        const failure = await upgradeFailure(handle.result());
        const endedAt = Date.now();

        expect(failure.type).toBe(UpgradeFailureType.UpgradeRolledBack);
        expect(await psql("select name from agents where name = 'written-at-the-gate'")).toBe('written-at-the-gate');
        expect(await dumpEveryDatabase()).toEqual(atTheGate);
        expect(await platformState()).toMatchObject({ env: baseline.env, images: baseline.images });
        const restore = failure.report.databaseRestore;
        expect(restore).toMatchObject({ databases: ['aegis'], writersStopped: true });
        expect(restore?.dumps).toEqual([expect.stringMatching(/\/final\/aegis\.dump$/)]);
        for (const dump of restore?.preRestoreDumps ?? []) expect((await fs.stat(dump)).size).toBeGreaterThan(0);
        expect(restore?.preRestoreDumps).toHaveLength(1);
        // The writes discarded are those from the final dump, taken after the gate (the row is older), to the restore.
        const restoreStep = failure.report.rollback.find((step) => step.id === 'rollback:database');
        const restoreStarted = Date.parse(restoreStep?.startedAt ?? '');
        const { from, to } = restore?.discardedWrites ?? { from: '', to: '' };
        expect({ from, to }).toEqual({ from: failure.report.backup?.final?.takenAt, to: restore?.restoredAt });
        expect({
          from,
          startsAfterTheGate: Date.parse(from) >= approvedAt,
          to,
          endsInTheRestore: Date.parse(to) >= restoreStarted && Date.parse(to) <= endedAt,
        }).toMatchObject({ startsAfterTheGate: true, endsInTheRestore: true });
        tally.rolledBack++;
      },
      SCENARIO_TIMEOUT_MS,
    );
  });

  test('after every scenario, no worker printed a secret of .env', expectNoSecretPrinted);
});

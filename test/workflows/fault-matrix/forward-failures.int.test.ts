import path from 'node:path';
import { UpgradeFailureType, type UpgradeReport } from '../../../src/core/upgrade';
import { CHANGES, readCommandsRun } from '../../helpers/commands-run';
import { backupsIn, psql, startUpgrade, upgradeFailure } from '../../helpers/platform';
import { SCENARIO_TIMEOUT_MS, FORWARD_FAILURES, matrixRequest, useFaultMatrix } from '../../helpers/fault-matrix';

/** The restores the worker ran, as the journal of commands counts them. */
async function restoresRun(env: Record<string, string>): Promise<string[]> {
  const restore = CHANGES.find(({ kind }) => kind === 'restore')?.pattern ?? /^$/;
  return (await readCommandsRun(env))
    .filter((run) => run.parent === undefined && restore.test(run.command))
    .map((run) => run.command);
}

/**
 * The fault matrix, part forward-failures: a failure injected in each forward step rolls everything back.
 * What the parts share is in test/helpers/fault-matrix.ts; each part runs on a sandbox of its own when lanes run.
 */
describe('the fault matrix on the sandbox: forward-failures', () => {
  const {
    platform,
    faults,
    tally,
    eachScenario,
    platformState,
    lockLeft,
    expectRolledBack,
    expectCompleted,
    expectNoSecretPrinted,
  } = useFaultMatrix('forward-failures');

  describe('a failure injected in a forward step rolls everything back', () => {
    eachScenario();

    test.each(FORWARD_FAILURES)(
      '$name → UpgradeRolledBack at $step, .env, images and every database as before',
      async ({ step, fault, envReadOnly, targetVersion = '1.3.0' }) => {
        const before = await platformState();
        if (fault) await faults.add(fault);
        if (envReadOnly) await faults.envReadOnly(platform.root, true);
        const handle = await startUpgrade(platform, matrixRequest(targetVersion, step));
        await expectRolledBack(handle, step, before);
      },
      SCENARIO_TIMEOUT_MS,
    );

    test(
      'a failure in pre-flight → PreflightFailed: nothing changed, no lock, no backup',
      async () => {
        const before = await platformState();
        await faults.add({ action: 'fail', command: 'podman manifest inspect *' });
        const failure = await upgradeFailure((await startUpgrade(platform, { targetVersion: '1.3.0' })).result());

        expect(failure.type).toBe(UpgradeFailureType.PreflightFailed);
        expect(failure.message).toContain('sandbox fault: podman manifest inspect');
        expect(await platformState()).toEqual(before);
        expect(await lockLeft()).toBe(false);
        expect(await backupsIn(platform.root)).toEqual([]);
        tally.refused++;
      },
      SCENARIO_TIMEOUT_MS,
    );
  });

  describe('what a rollback restores, by policy; a downgrade with its backup', () => {
    eachScenario();

    test(
      'restoreDatabase never: 1.3.1 rolled back with no restore, .env and images as before, the schema as its migrations left it',
      async () => {
        const before = await platformState();
        const handle = await startUpgrade(platform, { targetVersion: '1.3.1', restoreDatabase: 'never' });
        const failure = await upgradeFailure(handle.result());

        expect({ type: failure.type, step: failure.report.cause?.step }).toEqual({
          type: UpgradeFailureType.UpgradeRolledBack,
          step: 'migrations',
        });
        const after = await platformState();
        expect({ env: after.env, images: after.images }).toEqual({ env: before.env, images: before.images });
        expect(after.databases.aegis).not.toEqual(before.databases.aegis);
        expect(failure.report.rollback.map((step) => step.id)).not.toContain('rollback:database');
        expect(failure.report.databaseRestored).toBe(false);
        expect(await restoresRun(platform.env)).toEqual([]);
        expect(await lockLeft()).toBe(false);
        tally.rolledBack++;
      },
      SCENARIO_TIMEOUT_MS,
    );

    test(
      'restoreDatabase always: a failure before the runtime (the database pod) still restores the database; all as before',
      async () => {
        const before = await platformState();
        await faults.add({ action: 'fail', command: 'make * redeploy POD=database *AEGIS_IMAGE_TAG=1.3.0' });
        const request = { targetVersion: '1.3.0', redeployAll: true, restoreDatabase: 'always' } as const;
        const handle = await startUpgrade(platform, request);
        await expectRolledBack(handle, 'redeploy:database', before);
        const { report } = await upgradeFailure(handle.result());
        expect(report.rollback.find((step) => step.id === 'rollback:database')?.status).toBe('succeeded');
        expect(report.databaseRestore?.databases).toEqual(['aegis']);
        expect(await restoresRun(platform.env)).toHaveLength(1);
      },
      SCENARIO_TIMEOUT_MS,
    );

    test(
      "a downgrade 1.3.0 → 1.2.0 with restoreFrom completes: 1.2.0 runs on the backup's data, a later write discarded and reported",
      async () => {
        const before = await platformState();
        const upgraded = await expectCompleted(await startUpgrade(platform, { targetVersion: '1.3.0' }));
        await psql(
          "insert into agents (id, name, version, status, manifest) values ('a0000000-0000-4000-8000-00000000d0e1', 'written-on-1.3.0', '1.0.0', 'active', '{}')",
        );
        const restoreFrom = path.basename(upgraded.backup?.location ?? '');
        const downgraded: UpgradeReport = await (
          await startUpgrade(platform, { targetVersion: '1.2.0', restoreFrom })
        ).result();

        expect(downgraded.phase).toBe('completed');
        expect(await platformState()).toEqual(before);
        expect(await psql("select count(*) from agents where name = 'written-on-1.3.0'")).toBe('0');
        expect(downgraded.databaseRestore?.dumps).toEqual([expect.stringContaining(`/${restoreFrom}/`)]);
        expect(downgraded.databaseRestore?.discardedWrites.to).toBe(downgraded.databaseRestore?.restoredAt);
        expect(await lockLeft()).toBe(false);
        tally.completed++;
      },
      SCENARIO_TIMEOUT_MS,
    );
  });

  test('after every scenario, no worker printed a secret of .env', expectNoSecretPrinted);
});

import { UpgradeFailureType } from '../../../src/core/upgrade';
import { backupsIn, startUpgrade, upgradeFailure } from '../../helpers/platform';
import { SCENARIO_TIMEOUT_MS, FORWARD_FAILURES, matrixRequest, useFaultMatrix } from '../../helpers/fault-matrix';

/**
 * The fault matrix, part forward-failures: a failure injected in each forward step rolls everything back.
 * What the parts share is in test/helpers/fault-matrix.ts; each part runs on a sandbox of its own when lanes run.
 */
describe('the fault matrix on the sandbox: forward-failures', () => {
  const { platform, faults, tally, eachScenario, platformState, lockLeft, expectRolledBack, expectNoSecretPrinted } =
    useFaultMatrix('forward-failures');

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

  test('after every scenario, no worker printed a secret of .env', expectNoSecretPrinted);
});

import { progressQuery } from '../../../src/core/upgrade';
import { type Fault } from '../../helpers/faults';
import { startUpgrade, waitFor } from '../../helpers/platform';
import {
  completedChanges,
  SCENARIO_TIMEOUT_MS,
  FORWARD_KILLS,
  matrixRequest,
  useFaultMatrix,
} from '../../helpers/fault-matrix';

/**
 * The fault matrix, part forward-kills: a worker killed inside each forward step, and the Temporal server restarted.
 * What the parts share is in test/helpers/fault-matrix.ts; each part runs on a sandbox of its own when lanes run.
 */
describe('the fault matrix on the sandbox: forward-kills', () => {
  const {
    platform,
    faults,
    startWorker,
    killWorker,
    eachScenario,
    expectCompleted,
    expectNoChangeTwice,
    killInside,
    expectNoSecretPrinted,
  } = useFaultMatrix('forward-kills');

  describe('a worker killed inside a forward step is replaced and the upgrade completes', () => {
    eachScenario();

    test.each(FORWARD_KILLS)(
      'SIGKILL inside $step → completed, no completed step run twice',
      async ({ step, pause, settled }) => {
        const fault: Fault = { action: 'pause', command: pause };
        await faults.add(fault);
        const request = matrixRequest('1.3.0', step);
        const handle = await startUpgrade(platform, request);
        await killInside(handle, fault, step, { settled });
        await expectCompleted(handle, request.redeployAll);
        await expectNoChangeTwice({ killed: true, including: completedChanges(request.redeployAll) });
      },
      SCENARIO_TIMEOUT_MS,
    );

    test(
      'SIGKILL inside set-tag (while it retries a write that fails) → completed, no completed step run twice',
      async () => {
        await faults.envReadOnly(platform.root, true);
        const handle = await startUpgrade(platform, { targetVersion: '1.3.0' });
        await waitFor(
          async () =>
            ((await handle.describe()).raw.pendingActivities ?? []).some(
              (activity) => activity.activityType?.name === 'setImageTag' && (activity.attempt ?? 0) >= 2,
            ),
          60_000,
        );
        expect((await handle.query(progressQuery)).currentStep).toBe('set-tag');
        await killWorker();
        await faults.envReadOnly(platform.root, false);
        await startWorker();
        await expectCompleted(handle);
        await expectNoChangeTwice({ killed: true, including: completedChanges() });
      },
      SCENARIO_TIMEOUT_MS,
    );
  });

  describe('the Temporal server', () => {
    eachScenario();

    test(
      'stopped and started again mid-upgrade → the upgrade completes',
      async () => {
        const fault: Fault = { action: 'pause', command: 'make * redeploy POD=seal-gateway *AEGIS_IMAGE_TAG=1.3.0' };
        await faults.add(fault);
        const handle = await startUpgrade(platform, { targetVersion: '1.3.0' });
        await faults.paused();
        await platform.server.restart();
        await faults.remove(fault);
        await expectCompleted(handle);
        await expectNoChangeTwice({ killed: false, including: completedChanges() });
      },
      SCENARIO_TIMEOUT_MS,
    );
  });

  test('after every scenario, no worker printed a secret of .env', expectNoSecretPrinted);
});

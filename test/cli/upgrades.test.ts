import { ServiceError } from '@temporalio/client';
import { UsageError, isUnanswered } from '../../src/cli/errors';
import { componentRequest } from '../../src/cli/components';
import type { WorkflowExecutionDescription } from '@temporalio/client';
import { retryingActivities, upgradeRequest, withRetries } from '../../src/cli/upgrades';
import type { UpgradeProgress } from '../../src/core/upgrade';
import { thrown } from '../helpers/thrown';

describe('upgradeRequest', () => {
  it('builds the request from the options and applies the defaults, as the workflow would', () => {
    expect(
      upgradeRequest('1.3.0', {
        env: 'default',
        pods: 'database, core',
        approveBefore: 'core',
        approvalTimeout: '30m',
      }),
    ).toEqual({
      targetVersion: '1.3.0',
      pods: ['database', 'core'],
      strategy: 'rolling',
      restoreDatabase: 'auto',
      approveBefore: ['core'],
      approvalTimeout: '30m',
      dryRun: false,
    });
  });

  it('--redeploy-all and --concurrent-after-core into the request, and nothing when left out', () => {
    expect(upgradeRequest('1.3.0', { env: 'default', redeployAll: true, concurrentAfterCore: true })).toMatchObject({
      redeployAll: true,
      concurrentAfterCore: true,
    });
    const plain = upgradeRequest('1.3.0', { env: 'default' });
    expect(plain).not.toHaveProperty('redeployAll');
    expect(plain).not.toHaveProperty('concurrentAfterCore');
  });

  it("refuses with the shared parser's message, every problem at once", () => {
    const { message } = thrown(UsageError, () =>
      upgradeRequest('1.3.0; rm -rf /', {
        env: 'default',
        pods: 'core,mongodb',
        strategy: 'canary',
        approvalTimeout: 'abc',
      }),
    );

    expect(message).toContain('Expected `targetVersion` to be an image tag like 1.3.0, got `1.3.0; rm -rf /`');
    expect(message).toContain('Unknown pod `mongodb` in `pods`');
    expect(message).toContain('Expected `strategy` to be rolling or full, got `canary`');
    expect(message).toContain('got `abc`');
    expect(message).toContain('`approvalTimeout` needs `approveBefore`');
  });

  it('refuses what a full upgrade would ignore', () => {
    expect(
      thrown(UsageError, () => upgradeRequest('1.3.0', { env: 'default', strategy: 'full', pods: 'core' })).message,
    ).toBe('`pods` cannot be used with strategy full: it tears down and deploys the whole profile');
  });

  it('asks for the version when there is none', () => {
    expect(thrown(UsageError, () => upgradeRequest(undefined, { env: 'default' })).message).toContain(
      'Expected the version to upgrade to',
    );
  });
});

describe('retryingActivities and withRetries', () => {
  const description = (pendingActivities: object[]) =>
    ({ raw: { pendingActivities } }) as unknown as WorkflowExecutionDescription;
  const progress: UpgradeProgress = {
    phase: 'rolling-back',
    toVersion: '1.3.0',
    currentStep: 'rollback:redeploy:core',
    steps: [{ id: 'redeploy:core', title: 'Redeploy core', status: 'failed', detail: 'PodNotReady' }],
    rollback: [{ id: 'rollback:redeploy:core', title: 'Redeploy core on the previous images', status: 'running' }],
  };

  it('lists the activities past their first attempt, with the last error the server recorded', () => {
    const retrying = retryingActivities(
      description([
        { activityType: { name: 'awaitPodReady' }, attempt: 1 },
        { activityType: { name: 'redeployPod' }, attempt: 3, lastFailure: { message: 'registry unreachable' } },
      ]),
    );

    expect(retrying).toEqual([{ activity: 'redeployPod', attempt: 3, lastError: 'registry unreachable' }]);
  });

  it("puts them in the current step's detail and leaves every other step as it was", () => {
    const shown = withRetries(progress, [{ activity: 'redeployPod', attempt: 3, lastError: 'registry unreachable' }]);

    expect(shown.rollback[0]?.detail).toBe('retrying redeployPod, attempt 3; last error: registry unreachable');
    expect(shown.steps).toEqual(progress.steps);
  });

  it('changes nothing when no activity is being retried', () => {
    expect(withRetries(progress, retryingActivities(description([])))).toBe(progress);
  });
});

describe('componentRequest', () => {
  it("is the shared parser's request, its refusal a usage error (exit 2) naming the problem", () => {
    expect(componentRequest('postgres', '16', { env: 'default' })).toEqual({
      component: 'postgres',
      targetVersion: '16',
      allowUnsupported: false,
      dryRun: false,
    });
    expect(thrown(UsageError, () => componentRequest('temporal', '1.24', { env: 'default' })).message).toBe(
      'Temporal 1.24 is outside the range AEGIS runtime 0.x supports (1.22–1.23): set `allowUnsupported` (--allow-unsupported) to go there anyway',
    );
    expect(() => componentRequest('postgres', '14', { env: 'default' })).toThrow(UsageError);
  });
});

describe('isUnanswered', () => {
  /** A gRPC error as grpc-js gives it: a code, its details and the metadata. */
  const grpcError = (code: number, details: string) =>
    Object.assign(new Error(`${code} ${details}`), { code, details, metadata: {} });

  it.each([
    [4, 'Deadline exceeded'],
    [1, 'Call cancelled'],
    [9, 'no poller seen for task queue recently'],
  ])('takes gRPC %s (%s) for a query no worker answered', (code, details) => {
    expect(isUnanswered(new ServiceError('Failed to query Workflow', { cause: grpcError(code, details) }))).toBe(true);
  });

  it('takes another error for what it is', () => {
    expect(isUnanswered(new ServiceError('Failed to query Workflow', { cause: grpcError(14, 'unavailable') }))).toBe(
      false,
    );
    expect(isUnanswered(new Error('a bug'))).toBe(false);
  });
});

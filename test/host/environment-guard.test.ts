import { ApplicationFailure } from '@temporalio/common';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { deploymentEnvironmentOf, guardEnvironment, type ServedEnvironment } from '../../src/host/environment-guard';
import { WRONG_ENVIRONMENT } from '../../src/core/errors';
import { activityEnvironment } from '../helpers/activity-environment';

const ROOT = '/srv/aegis-staging';

/** A staging worker whose deployment says `marked` (nothing by default). */
const staging = (marked?: string): ServedEnvironment => ({
  environment: 'staging',
  root: ROOT,
  deploymentEnvironment: () => Promise.resolve(marked),
});

/** One activity that records each call: a guarded call that reaches it has changed something. */
function recorded() {
  const calls: string[] = [];
  const activities = {
    async setImageTag({ tag }: { tag: string }): Promise<string> {
      calls.push(tag);
      return '1.2.0';
    },
  };
  return { calls, activities };
}

const runAs = (workflowId: string, served: ServedEnvironment) => {
  const { calls, activities } = recorded();
  const guarded = guardEnvironment(activities, served);
  const result = activityEnvironment({
    activityType: 'setImageTag',
    workflowExecution: { workflowId, runId: 'run-1' },
  }).run(guarded.setImageTag, { tag: '1.3.0' });
  return { calls, result };
};

async function refusal(result: Promise<unknown>): Promise<ApplicationFailure> {
  const error = await result.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(ApplicationFailure);
  const failure = error as ApplicationFailure;
  expect(failure.type).toBe(WRONG_ENVIRONMENT);
  expect(failure.nonRetryable).toBe(true);
  return failure;
}

describe('guardEnvironment', () => {
  it.each([
    'aegis-upgrade-staging',
    'aegis-upgrade-staging-2026-06-07T03:00:00Z',
    'aegis-plan-staging-1',
    'aegis-unlock-staging-1',
  ])('lets the activity of %s run on the staging worker', async (workflowId) => {
    const { calls, result } = runAs(workflowId, staging());
    await expect(result).resolves.toBe('1.2.0');
    expect(calls).toEqual(['1.3.0']);
  });

  it('refuses an upgrade of another environment, naming both, before the activity runs', async () => {
    const { calls, result } = runAs('aegis-upgrade-production', staging());
    const failure = await refusal(result);
    expect(failure.message).toBe(
      'setImageTag refused: Workflow `aegis-upgrade-production` is for environment production, but this worker serves ' +
        'environment staging (deployment /srv/aegis-staging): the task was routed to the wrong task queue. Nothing was ' +
        "changed; start it again with `aegis-upgrade start --env production`, which routes it to production's worker",
    );
    expect(calls).toEqual([]);
  });

  it('refuses a workflow whose ID names no environment', async () => {
    const { calls, result } = runAs('my-upgrade', staging());
    expect((await refusal(result)).message).toContain(
      'Workflow `my-upgrade` names no environment, and this worker serves environment staging',
    );
    expect(calls).toEqual([]);
  });

  it("refuses when the deployment's .env names another environment than the worker's", async () => {
    const { calls, result } = runAs('aegis-upgrade-staging', staging('production'));
    expect((await refusal(result)).message).toContain(
      'Deployment /srv/aegis-staging is environment production (AEGIS_ENVIRONMENT in its .env), but this worker ' +
        'serves environment staging',
    );
    expect(calls).toEqual([]);
  });

  it('lets a deployment that names its own environment run', async () => {
    const { calls, result } = runAs('aegis-upgrade-staging', staging('staging'));
    await expect(result).resolves.toBe('1.2.0');
    expect(calls).toEqual(['1.3.0']);
  });
});

describe('guardEnvironment of a fleet activity (checkHealth): the environment its input names', () => {
  const checkAs = (environment: unknown, served: ServedEnvironment) => {
    const calls: unknown[] = [];
    const guarded = guardEnvironment(
      {
        async checkHealth(input: { environment: string }) {
          calls.push(input);
          return { environment: input.environment, version: '1.3.0', problems: [] };
        },
      },
      served,
    );
    const result = activityEnvironment({
      activityType: 'checkHealth',
      workflowExecution: { workflowId: 'aegis-fleet-nightly', runId: 'run-1' },
    }).run(guarded.checkHealth, { environment } as { environment: string });
    return { calls, result };
  };

  it("runs on the worker of the environment it names, though the fleet's ID names none", async () => {
    const { calls, result } = checkAs('staging', staging());
    await expect(result).resolves.toMatchObject({ environment: 'staging' });
    expect(calls).toHaveLength(1);
  });

  it('refuses on the worker of another environment, or when it names none', async () => {
    const misrouted = checkAs('production', staging());
    expect((await refusal(misrouted.result)).message).toBe(
      'checkHealth refused: Workflow `aegis-fleet-nightly` asked this of environment production, but this worker ' +
        'serves environment staging (deployment /srv/aegis-staging): the task was routed to the wrong task queue',
    );
    expect(misrouted.calls).toEqual([]);
    const unnamed = checkAs(undefined, staging());
    await refusal(unnamed.result);
    expect(unnamed.calls).toEqual([]);
  });

  it("refuses when the deployment's .env names another environment", async () => {
    const { calls, result } = checkAs('staging', staging('production'));
    expect((await refusal(result)).message).toContain('Deployment /srv/aegis-staging is environment production');
    expect(calls).toEqual([]);
  });
});

describe('deploymentEnvironmentOf', () => {
  let root: string;
  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-environment-'));
  });
  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it("reads AEGIS_ENVIRONMENT from the checkout's .env", async () => {
    await fs.writeFile(path.join(root, '.env'), 'AEGIS_IMAGE_TAG=1.2.0\nAEGIS_ENVIRONMENT="staging"\n');
    await expect(deploymentEnvironmentOf(root)).resolves.toBe('staging');
  });

  it('names none when the .env has no such line, or there is no .env', async () => {
    await expect(deploymentEnvironmentOf(root)).resolves.toBeUndefined();
    await fs.writeFile(path.join(root, '.env'), 'AEGIS_IMAGE_TAG=1.2.0\nAEGIS_ENVIRONMENT=\n');
    await expect(deploymentEnvironmentOf(root)).resolves.toBeUndefined();
  });
});

import {
  DEFAULT_ENVIRONMENT,
  InvalidEnvironmentName,
  checkEnvironmentName,
  environmentOfWorkflowId,
  isEnvironmentName,
  planWorkflowId,
  taskQueueFor,
} from '../../src/core/environments';
import { DEFAULT_TASK_QUEUE, upgradeWorkflowId } from '../../src/core/upgrade';
import { unlockWorkflowId } from '../../src/core/upgrade-lock';
import { thrown } from '../helpers/thrown';

describe('environment names', () => {
  it.each(['default', 'staging', 'eu-west-1', 'site-2', '7', 'a'.repeat(63)])('accepts %s', (name) => {
    expect(isEnvironmentName(name)).toBe(true);
    expect(checkEnvironmentName(name, '--env')).toBe(name);
  });

  it.each([
    '',
    'Staging',
    'eu_west',
    '-staging',
    'staging-',
    'a'.repeat(64),
    'staging 2',
    "x' OR WorkflowId != '",
    'demo-1.3.0',
    'staging-2026-06-07T03:00:00Z',
  ])('refuses %j, naming where it came from', (name) => {
    const error = thrown(InvalidEnvironmentName, () => checkEnvironmentName(name, '--env'));
    expect(error.message).toMatch(/^Expected --env to be an environment name like staging or eu-west-1 .*, got `/);
  });
});

describe('taskQueueFor', () => {
  it('keeps the queue a single deployment always had for the default environment', () => {
    expect(taskQueueFor(DEFAULT_ENVIRONMENT)).toBe(DEFAULT_TASK_QUEUE);
    expect(taskQueueFor('default', 'upgrades-eu')).toBe('upgrades-eu');
  });

  it('gives every other environment a queue of its own', () => {
    expect(taskQueueFor('staging')).toBe('aegis-upgrades-staging');
    expect(taskQueueFor('staging', 'upgrades-eu')).toBe('upgrades-eu-staging');
    const queues = ['default', 'staging', 'production', 'eu-west', 'eu'].map((env) => taskQueueFor(env));
    expect(new Set(queues).size).toBe(queues.length);
  });
});

describe('environmentOfWorkflowId', () => {
  const now = new Date('2026-06-07T03:00:00.123Z');

  it.each(['default', 'staging', 'eu-west-1', 'site-2'])('reads %s back from every ID made for it', (env) => {
    expect(environmentOfWorkflowId(upgradeWorkflowId(env))).toBe(env);
    // A schedule appends its start time; a test may append milliseconds.
    expect(environmentOfWorkflowId(`${upgradeWorkflowId(env)}-2026-06-07T03:00:00Z`)).toBe(env);
    expect(environmentOfWorkflowId(`${upgradeWorkflowId(env)}-${now.toISOString()}`)).toBe(env);
    expect(environmentOfWorkflowId(planWorkflowId(env, now.getTime()))).toBe(env);
    expect(environmentOfWorkflowId(unlockWorkflowId(env, now))).toBe(env);
    // The `temporal workflow execute` unlock of docs/temporal-recipes.md.
    expect(environmentOfWorkflowId(`aegis-unlock-${env}-1`)).toBe(env);
  });

  it.each(['my-upgrade', 'bad-request-0', 'aegis-upgrade-', 'aegis-upgrade-demo-1.3.0', 'aegis-plan-staging'])(
    'names no environment for %j',
    (workflowId) => {
      expect(environmentOfWorkflowId(workflowId)).toBeUndefined();
    },
  );
});

import type { EnvironmentSummary } from '../../src/cli/environments';
import { renderEnvironments } from '../../src/cli/render';

const summary = (fields: Partial<EnvironmentSummary>): EnvironmentSummary => ({
  name: 'default',
  version: '1.3.0',
  lastUpgrade: {
    workflowId: 'aegis-upgrade-default',
    runId: 'run-1',
    environment: 'default',
    toVersion: '1.3.0',
    phase: 'completed',
    startedAt: '2026-11-22T03:00:00.000Z',
    startedBy: 'hand',
  },
  taskQueue: 'aegis-upgrades',
  workerPolling: true,
  ...fields,
});

describe('renderEnvironments', () => {
  it('lines up each environment: version, last upgrade, worker, task queue', () => {
    expect(
      renderEnvironments([
        summary({}),
        summary({
          name: 'staging',
          version: undefined,
          lastUpgrade: {
            workflowId: 'aegis-upgrade-staging',
            runId: 'run-2',
            environment: 'staging',
            toVersion: '1.4.0',
            phase: 'rolled-back',
            startedAt: '2026-11-23T03:00:00.000Z',
            startedBy: 'hand',
          },
          taskQueue: 'aegis-upgrades-staging',
          workerPolling: false,
        }),
      ]),
    ).toBe(
      [
        'ENVIRONMENT  VERSION  LAST UPGRADE       STARTED                   WORKER   TASK QUEUE',
        'default      1.3.0    1.3.0 completed    2026-11-22T03:00:00.000Z  polling  aegis-upgrades',
        'staging      ?        1.4.0 rolled-back  2026-11-23T03:00:00.000Z  none     aegis-upgrades-staging',
      ].join('\n'),
    );
  });

  it('says when no environment has had an upgrade', () => {
    expect(renderEnvironments([])).toBe('No environment has had an upgrade yet.');
  });
});

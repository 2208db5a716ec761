import * as commands from '../../src/cli/commands';
import { fleetRequest } from '../../src/cli/fleet';
import { UsageError } from '../../src/cli/errors';
import { renderFleetPlan, renderFleetProgress } from '../../src/cli/render-fleet';
import { parseFleetRequest } from '../../src/core/fleet-request';
import { thrown } from '../helpers/thrown';

const printed = async (run: () => Promise<number>): Promise<{ exitCode: number; text: string }> => {
  const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
  try {
    const exitCode = await run();
    return { exitCode, text: log.mock.calls.map((call) => call.join(' ')).join('\n') };
  } finally {
    log.mockRestore();
  }
};

describe('fleet plan', () => {
  it('prints the waves from the request alone, changing nothing', async () => {
    const { exitCode, text } = await printed(() =>
      commands.fleetPlan('1.3.0', {
        name: 'default',
        envs: 'staging,eu-1,eu-2,us-1,us-2',
        waveSize: 2,
        bake: '15 minutes',
        approveBetweenWaves: true,
        onBudgetExceeded: 'roll-back-wave',
      }),
    );
    expect(exitCode).toBe(0);
    expect(text).toBe(
      [
        'Fleet plan: 5 environments to 1.3.0 in 3 waves (nothing was changed)',
        '  Wave 1: staging',
        '  Wave 2: eu-1, eu-2',
        '  Wave 3: us-1, us-2',
        'At once: the whole wave',
        'Between waves: each wave stays healthy for 15 minutes, then waits for `aegis-upgrade fleet approve`',
        "Failure budget: 0 for the canary wave, 0 per wave after it; over it: stop, and roll back the wave's upgraded environments to their previous versions, keeping their data (one whose upgrade migrated the schema is left as it is)",
      ].join('\n'),
    );
  });

  it('prints the planned request as JSON', async () => {
    const { text } = await printed(() =>
      commands.fleetPlan('1.3.0', { name: 'default', envs: 'a,b,c', canary: 'b', json: true }),
    );
    expect(JSON.parse(text)).toMatchObject({ waves: [['b'], ['a', 'c']], failureBudget: 0, onBudgetExceeded: 'stop' });
  });

  it('refuses a bad request as a usage error, naming each problem', () => {
    const error = thrown(UsageError, () =>
      fleetRequest('1.3.0', { name: 'default', envs: 'staging,Prod', waveShare: 'half', strategy: 'fast' }),
    );
    expect(error.message).toContain('Expected `strategy` to be rolling or full, got `fast`');
    expect(error.message).toContain('got `Prod`');
    expect(error.message).toContain('Expected `waveShare` to be a share of the fleet like 25%');
  });

  it('hands the workflow the request as the temporal CLI line would: only the fields given', () => {
    expect(fleetRequest('1.3.0', { name: 'default', envs: 'a, b', canary: '', approveBefore: 'core' })).toEqual({
      targetVersion: '1.3.0',
      environments: ['a', 'b'],
      canary: [],
      approveBefore: ['core'],
    });
  });
});

describe('renderFleetProgress', () => {
  it('shows each environment with its wave, phase, previous version and detail', () => {
    const request = parseFleetRequest({ targetVersion: '1.3.0', environments: ['canary', 'eu', 'us'] });
    expect(renderFleetPlan(request)).toContain('Wave 2: eu, us');
    expect(
      renderFleetProgress({
        targetVersion: '1.3.0',
        phase: 'rolled-back',
        wave: 1,
        waves: 2,
        run: 2,
        environments: [
          { environment: 'canary', wave: 0, phase: 'completed', fromVersion: '1.2.0' },
          { environment: 'eu', wave: 1, phase: 'rolled-back', fromVersion: '1.2.0', detail: 'validate failed' },
          { environment: 'us', wave: 1, phase: 'pending' },
        ],
      }),
    ).toBe(
      [
        'Fleet to 1.3.0: rolled-back, wave 2 of 2',
        '  canary       wave 1  completed    from 1.2.0',
        '  eu           wave 2  rolled-back  from 1.2.0 — validate failed',
        '  us           wave 2  pending',
      ].join('\n'),
    );
  });
});

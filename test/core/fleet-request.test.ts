import { InvalidFleetRequest, parseFleetRequest, planWaves, upgradeOptionsOf } from '../../src/core/fleet-request';
import { defaultQueueOfFleet, fleetTaskQueue, fleetWorkflowId } from '../../src/core/fleet';
import { environmentOfWorkflowId, taskQueueFor } from '../../src/core/environments';
import { thrown } from '../helpers/thrown';

const names = (count: number) => Array.from({ length: count }, (_, index) => `env-${index + 1}`);

describe('planWaves', () => {
  it('takes the first environment as the canary, then all the rest in one wave', () => {
    expect(planWaves(['a', 'b', 'c'], {})).toEqual([['a'], ['b', 'c']]);
  });

  it('cuts the rest in waves of waveSize, the last one shorter', () => {
    expect(planWaves(names(6), { waveSize: 2 })).toEqual([
      ['env-1'],
      ['env-2', 'env-3'],
      ['env-4', 'env-5'],
      ['env-6'],
    ]);
  });

  it('makes a share of the whole fleet a wave, rounded up', () => {
    const waves = planWaves(names(10), { share: 25 });
    expect(waves.map((wave) => wave.length)).toEqual([1, 3, 3, 3]);
    expect(waves.flat()).toEqual(names(10));
  });

  it('takes the canaries named, in their order, out of the rest; none with an empty canary', () => {
    expect(planWaves(['a', 'b', 'c', 'd'], { canary: ['c', 'a'], waveSize: 1 })).toEqual([['c', 'a'], ['b'], ['d']]);
    expect(planWaves(['a', 'b', 'c'], { canary: [], waveSize: 2 })).toEqual([['a', 'b'], ['c']]);
  });

  it('plans a lone canary as one wave', () => {
    expect(planWaves(['a'], {})).toEqual([['a']]);
  });
});

describe('parseFleetRequest', () => {
  it('applies the defaults and parses each upgrade as parseUpgradeRequest does', () => {
    const parsed = parseFleetRequest({
      targetVersion: '1.3.0',
      environments: ['staging', 'eu', 'us'],
      strategy: 'rolling',
      approveBefore: ['core'],
    });
    expect(parsed).toMatchObject({
      targetVersion: '1.3.0',
      waves: [['staging'], ['eu', 'us']],
      bakeMs: 0,
      approveBetweenWaves: false,
      failureBudget: 0,
      canaryFailureBudget: 0,
      hasCanary: true,
      upgradeStartDeadline: '10 minutes',
      upgradeStartDeadlineMs: 600_000,
      onBudgetExceeded: 'stop',
    });
    expect(upgradeOptionsOf(parsed)).toEqual({
      strategy: 'rolling',
      restoreDatabase: 'auto',
      approveBefore: ['core'],
      approvalTimeout: '24 hours',
    });
  });

  it('reads the bake, the share, the budget and its policy', () => {
    const parsed = parseFleetRequest({
      targetVersion: '1.3.0',
      environments: names(8),
      waveShare: '50%',
      bake: '15 minutes',
      failureBudget: 1,
      canaryFailureBudget: 1,
      onBudgetExceeded: 'roll-back-wave',
      maxConcurrent: 2,
      approveBetweenWaves: true,
    });
    expect(parsed).toMatchObject({
      bakeMs: 900_000,
      bake: '15 minutes',
      failureBudget: 1,
      onBudgetExceeded: 'roll-back-wave',
      maxConcurrent: 2,
      approveBetweenWaves: true,
    });
    expect(parsed.waves.map((wave) => wave.length)).toEqual([1, 4, 3]);
  });

  it('names every problem at once, the upgrade options among them', () => {
    const error = thrown(InvalidFleetRequest, () =>
      parseFleetRequest({
        targetVersion: '1.3.0; rm -rf /',
        environments: ['staging', 'Prod EU', 'staging'],
        canary: ['qa'],
        waveSize: 2,
        waveShare: '120%',
        failureBudget: -1,
        canaryFailureBudget: 'one',
        bake: 'forever',
        onBudgetExceeded: 'panic',
        restoreDatabaseOnWaveRollback: 'yes',
        upgradeStartDeadline: '1 second',
        strategy: 'fast',
        dryRun: true,
      }),
    );
    expect(error.problems).toEqual([
      '`dryRun` is not for a fleet: use `aegis-upgrade plan`/`start` --env',
      'Expected `targetVersion` to be an image tag like 1.3.0, got `1.3.0; rm -rf /`',
      'Expected `strategy` to be rolling or full, got `fast`',
      'Expected `environments` to hold environment names (lowercase letters, digits and inner hyphens), got `Prod EU`',
      '`environments` names `staging` twice',
      'Expected `failureBudget` to be a whole number of failures a wave tolerates, got `-1`',
      'Expected `canaryFailureBudget` to be a whole number of failures the canary wave tolerates, got `"one"`',
      'Expected `waveShare` to be a share of the fleet like 25%, got `"120%"`',
      'Expected `bake` to be a duration like \'15 minutes\', between 1 second and 7 days, got `"forever"`',
      'Expected `upgradeStartDeadline` to be a duration like \'10 minutes\', between 5 seconds and 1 day, got `"1 second"`',
      'Expected `restoreDatabaseOnWaveRollback` to be true or false, got `"yes"`',
      'Expected `onBudgetExceeded` to be one of stop, roll-back-wave, got `"panic"`',
    ]);
  });

  it('refuses canaries outside the fleet, both waveSize and waveShare, and no environments', () => {
    expect(
      thrown(InvalidFleetRequest, () =>
        parseFleetRequest({
          targetVersion: '1.3.0',
          environments: ['a'],
          canary: ['b'],
          waveSize: 1,
          waveShare: '10%',
        }),
      ).problems,
    ).toEqual([
      'Expected `canary` to name environments of `environments`, got `b`',
      'Give `waveSize` or `waveShare`, not both',
    ]);
    expect(
      thrown(InvalidFleetRequest, () =>
        parseFleetRequest({ targetVersion: '1.3.0', environments: ['a'], canary: [], canaryFailureBudget: 1 }),
      ).problems,
    ).toEqual(['`canaryFailureBudget` is for the canary wave, and `canary` is [] (no canary wave): leave it out']);
    expect(
      thrown(InvalidFleetRequest, () =>
        parseFleetRequest({ targetVersion: '1.3.0', environments: ['a'], restoreDatabaseOnWaveRollback: true }),
      ).problems,
    ).toEqual(['`restoreDatabaseOnWaveRollback` is for `onBudgetExceeded: roll-back-wave`: add it or leave this out']);
    expect(thrown(InvalidFleetRequest, () => parseFleetRequest({ targetVersion: '1.3.0' })).problems).toEqual([
      'Expected `environments` to list environments like ["staging","production"], got nothing',
    ]);
    expect(thrown(InvalidFleetRequest, () => parseFleetRequest('1.3.0')).message).toMatch(
      /^Expected the fleet request to be an object/,
    );
  });

  it('names a field of neither the fleet nor its upgrades, with the fields it takes', () => {
    const error = thrown(InvalidFleetRequest, () =>
      parseFleetRequest({ targetVersion: '1.3.0', environments: ['a'], waveSzie: 2 }),
    );
    expect(error.problems).toEqual([
      "Unknown field `waveSzie`: expected the fleet's (targetVersion, environments, canary, waveSize, waveShare, " +
        "maxConcurrent, bake, approveBetweenWaves, failureBudget, canaryFailureBudget, onBudgetExceeded, restoreDatabaseOnWaveRollback, upgradeStartDeadline) or its upgrades' (pods, strategy, " +
        'restoreDatabase, approveBefore, approvalTimeout, redeployAll, concurrentAfterCore, refreshMovingImages)',
    ]);
  });

  it('refuses a fleet above the size it was designed for', () => {
    const error = thrown(InvalidFleetRequest, () =>
      parseFleetRequest({ targetVersion: '1.3.0', environments: names(1001) }),
    );
    expect(error.problems).toEqual(['A fleet takes at most 1000 environments, got 1001: split it']);
  });

  it('refuses huge lists by their length, reading no name: neither repeats nor canaries are looked for', () => {
    const twice = [...names(20_000), ...names(20_000)];
    const error = thrown(InvalidFleetRequest, () =>
      parseFleetRequest({ targetVersion: '1.3.0', environments: twice, canary: twice }),
    );
    expect(error.problems).toEqual([
      'A fleet takes at most 1000 environments, got 40000: split it',
      'A fleet takes at most 1000 environments, got 40000: split it',
    ]);
  });

  it('refuses a request of thousands of fields by its size, reading none of them', () => {
    const fields = Object.fromEntries(Array.from({ length: 20_000 }, (_, index) => [`field${index}`, 1]));
    const error = thrown(InvalidFleetRequest, () =>
      parseFleetRequest({ targetVersion: '1.3.0', environments: ['staging'], ...fields }),
    );
    expect(error.problems).toEqual([
      'Expected the fleet request to have at most 100 fields, got 20002: send only targetVersion, environments, ' +
        'canary, waveSize, waveShare, maxConcurrent, bake, approveBetweenWaves, failureBudget, canaryFailureBudget, onBudgetExceeded, restoreDatabaseOnWaveRollback, upgradeStartDeadline, pods, ' +
        'strategy, restoreDatabase, approveBefore, approvalTimeout, redeployAll, concurrentAfterCore, refreshMovingImages',
    ]);
  });

  it('names each environment listed twice once, however often', () => {
    const error = thrown(InvalidFleetRequest, () =>
      parseFleetRequest({ targetVersion: '1.3.0', environments: ['a', 'b', 'a', 'a', 'b'] }),
    );
    expect(error.problems).toEqual(['`environments` names `a`, `b` twice']);
  });
});

describe('fleet names and queues', () => {
  it("runs on a queue no environment's worker polls, and names no environment in its ID", () => {
    expect(fleetTaskQueue()).toBe('aegis-upgrades.fleet');
    expect(defaultQueueOfFleet(fleetTaskQueue('q'))).toBe('q');
    for (const environment of ['fleet', 'default', 'x']) expect(taskQueueFor(environment)).not.toBe(fleetTaskQueue());
    expect(environmentOfWorkflowId(fleetWorkflowId('nightly'))).toBeUndefined();
  });
});

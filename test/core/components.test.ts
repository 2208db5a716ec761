import {
  COMPATIBILITY,
  ComponentUpgradeRefused,
  openbaoSupported,
  parseComponentRequest,
  planComponentUpgrade,
  temporalImageTag,
} from '../../src/core/components';
import { InvalidUpgradeRequest } from '../../src/core/upgrade-request';
import { thrown } from '../helpers/thrown';

const refusal = (input: unknown) => thrown(InvalidUpgradeRequest, () => parseComponentRequest(input)).message;
const plan = (component: 'postgres' | 'temporal', from: string, to: string, allowUnsupported = false) =>
  planComponentUpgrade(parseComponentRequest({ component, targetVersion: to, allowUnsupported }), from);
const planRefusal = (component: 'postgres' | 'temporal', from: string, to: string, allowUnsupported = false) =>
  thrown(ComponentUpgradeRefused, () => plan(component, from, to, allowUnsupported)).message;

describe('parseComponentRequest', () => {
  test('accepts PostgreSQL and Temporal targets, with their defaults', () => {
    expect(parseComponentRequest({ component: 'postgres', targetVersion: '16' })).toEqual({
      component: 'postgres',
      targetVersion: '16',
      allowUnsupported: false,
      dryRun: false,
    });
    for (const targetVersion of ['15.8', '16.2']) {
      expect(parseComponentRequest({ component: 'postgres', targetVersion }).targetVersion).toBe(targetVersion);
    }
    for (const targetVersion of ['1.23', '1.23.1']) {
      expect(parseComponentRequest({ component: 'temporal', targetVersion, dryRun: true }).dryRun).toBe(true);
    }
  });

  test('refuses what is not a request', () => {
    expect(refusal('postgres 16')).toBe(
      'Expected the component upgrade request to be an object like {"component":"postgres","targetVersion":"16"}, got `"postgres 16"`',
    );
  });

  test('refuses an unknown component, and an unknown field', () => {
    expect(refusal({ component: 'redis', targetVersion: '7', pods: ['core'] })).toBe(
      'Unknown field `pods`: expected only component, targetVersion, allowUnsupported, dryRun; ' +
        'Expected `component` to be postgres or temporal, got `"redis"`',
    );
    expect(refusal({ targetVersion: '16' })).toBe('Expected `component` to be postgres or temporal, got `"nothing"`');
  });

  test('refuses a target that is no version, and flags that are no booleans', () => {
    expect(refusal({ component: 'postgres', targetVersion: '16; rm -rf /', dryRun: 'yes' })).toBe(
      'Expected `dryRun` to be true or false, got `"yes"`; ' +
        'Expected `targetVersion` to be a PostgreSQL version like 15.8, 16 or 16.2, got `16; rm -rf /`',
    );
    expect(refusal({ component: 'temporal', targetVersion: '1' })).toBe(
      'Expected `targetVersion` to be a Temporal version like 1.23 or 1.23.1, got `1`',
    );
    expect(refusal({ component: 'temporal', targetVersion: 1.23 })).toBe(
      'Expected `targetVersion` to be a temporal version, got `1.23`',
    );
  });

  test('refuses PostgreSQL below the table', () => {
    expect(refusal({ component: 'postgres', targetVersion: '14.11' })).toBe(
      `PostgreSQL 14.11 is not supported: AEGIS needs PostgreSQL ${COMPATIBILITY.postgresMinMajor}+`,
    );
  });

  test('refuses Temporal outside the runtime range unless overridden', () => {
    expect(refusal({ component: 'temporal', targetVersion: '1.24' })).toBe(
      'Temporal 1.24 is outside the range AEGIS runtime 0.x supports (1.22–1.23): set `allowUnsupported` (--allow-unsupported) to go there anyway',
    );
    expect(
      parseComponentRequest({ component: 'temporal', targetVersion: '1.24', allowUnsupported: true }),
    ).toMatchObject({ targetVersion: '1.24', allowUnsupported: true });
  });
});

describe('planComponentUpgrade', () => {
  test('PostgreSQL: a minor within the major, a major to a newer one', () => {
    expect(plan('postgres', '15.6', '15.8')).toMatchObject({ strategy: 'postgres-minor', alreadyAtTarget: false });
    expect(plan('postgres', '15.8', '16')).toMatchObject({ strategy: 'postgres-major', fromVersion: '15.8' });
    expect(plan('postgres', '15.8', '15.8').alreadyAtTarget).toBe(true);
  });

  test('PostgreSQL: a downgrade of the minor is refused; the major alone names its newest minor', () => {
    expect(planRefusal('postgres', '15.18', '15.5')).toBe(
      'PostgreSQL 15.18 → 15.5 is a downgrade: it would go back without a backup, on data files 15.18 wrote; ' +
        'name 15.18 or a newer minor; nothing was changed',
    );
    expect(plan('postgres', '15.5', '15.18')).toMatchObject({ strategy: 'postgres-minor', alreadyAtTarget: false });
    expect(plan('postgres', '15.18', '15')).toMatchObject({ strategy: 'postgres-minor' });
  });

  test('PostgreSQL: a downgrade of the major is refused', () => {
    expect(planRefusal('postgres', '16.2', '15.8')).toBe(
      'PostgreSQL 16.2 → 15.8 is a downgrade of the major version: a cluster cannot go back to an older major; nothing was changed',
    );
  });

  test('Temporal: one minor at a time, naming the steps of a skip', () => {
    expect(plan('temporal', '1.22.3', '1.23')).toMatchObject({ strategy: 'temporal-minor', toVersion: '1.23' });
    expect(planRefusal('temporal', '1.22.3', '1.24', true)).toBe(
      'Temporal upgrades one minor version at a time: 1.22.3 → 1.24 skips 1.23; upgrade 1.22 → 1.23 → 1.24, one request per step; nothing was changed',
    );
  });

  test('Temporal: a downgrade, or another major, is refused', () => {
    expect(planRefusal('temporal', '1.23.0', '1.22')).toBe(
      'Temporal 1.23.0 → 1.22 is a downgrade: an older server cannot run a migrated schema; nothing was changed',
    );
    expect(planRefusal('temporal', '1.23.2', '1.23.1')).toMatch(/is a downgrade/);
    expect(planRefusal('temporal', '1.22.6', '1.22')).toBe(
      'Temporal 1.22.6 → 1.22 is a downgrade (1.22 deploys auto-setup:1.22.0): an older server cannot run a migrated ' +
        'schema; nothing was changed',
    );
    expect(planRefusal('temporal', '1.23.0', '2.0', true)).toBe(
      'Temporal 1.23.0 → 2.0 changes the major version: not supported',
    );
  });

  test('Temporal: an override is named in the plan, and the same version is already at target', () => {
    expect(plan('temporal', '1.23.0', '1.24', true).override).toBe(
      "Temporal 1.24 is outside the supported range 1.22–1.23: allowed by the request's allowUnsupported",
    );
    expect(plan('temporal', '1.22.3', '1.23').override).toBeUndefined();
    expect(plan('temporal', '1.23.0', '1.23').alreadyAtTarget).toBe(true);
  });

  test('an unreadable running version is refused', () => {
    expect(planRefusal('postgres', 'sixteen', '16')).toBe('Cannot read PostgreSQL version `sixteen`');
  });
});

test('temporalImageTag names a minor by its first release', () => {
  expect(temporalImageTag('1.23')).toBe('1.23.0');
  expect(temporalImageTag('1.23.1')).toBe('1.23.1');
});

test('openbaoSupported: 2.0 and later; an unreadable tag is undefined', () => {
  expect(openbaoSupported('2.0.0')).toBe(true);
  expect(openbaoSupported('v2.1')).toBe(true);
  expect(openbaoSupported('1.15.3')).toBe(false);
  expect(openbaoSupported('latest')).toBeUndefined();
});

import { TypedSearchAttributes } from '@temporalio/common';
import { UsageError } from '../../src/cli/errors';
import {
  checkedEnvironment,
  environmentUpgradesQuery,
  isUpgradeOf,
  queryLiteral,
  unregisteredSearchAttributes,
} from '../../src/cli/visibility';
import { AegisEnvironment } from '../../src/core/search-attributes';
import { InvalidEnvironmentName, isEnvironmentName } from '../../src/core/environments';
import { thrown } from '../helpers/thrown';

describe('environment names', () => {
  it.each(['default', 'staging', 'prod-eu-2', 'a', 'lab7', 'x'.repeat(63)])('takes %s', (name) => {
    expect(isEnvironmentName(name)).toBe(true);
    expect(checkedEnvironment(name)).toBe(name);
  });

  it.each([
    '',
    "prod' OR AegisEnvironment != '",
    'prod"',
    'a\\b',
    'two words',
    '-leading-dash',
    '.hidden',
    'Lab_7',
    'prod-eu.2',
    'new\nline',
    'é',
    'x'.repeat(64),
  ])('refuses %j before it goes into a query or an ID', (name) => {
    expect(isEnvironmentName(name)).toBe(false);
    expect(thrown(UsageError, () => checkedEnvironment(name)).message).toBe(
      new InvalidEnvironmentName('--env', name).message,
    );
    expect(() => environmentUpgradesQuery(name)).toThrow(UsageError);
  });
});

describe('queryLiteral', () => {
  it('quotes a plain value', () => {
    expect(queryLiteral('1.3.0')).toBe("'1.3.0'");
  });

  it.each(["it's", 'say "x"', 'a\\b', 'tab\there', 'nul\u0000'])(
    'refuses %j rather than escape it: escapes differ between visibility stores',
    (value) => {
      expect(thrown(UsageError, () => queryLiteral(value)).message).toContain(
        'quotes, backslashes and control characters are not allowed',
      );
    },
  );
});

describe('environmentUpgradesQuery', () => {
  it("asks for the environment's upgrades by attribute, and for older ones by their ID", () => {
    expect(environmentUpgradesQuery('staging')).toBe(
      "(WorkflowType = 'upgradePlatform' OR WorkflowType = 'upgradeComponent') AND (AegisEnvironment = 'staging' OR " +
        "(AegisEnvironment IS NULL AND WorkflowId STARTS_WITH 'aegis-upgrade-staging'))",
    );
  });

  it('asks for the running one only with running', () => {
    expect(environmentUpgradesQuery('default', { running: true })).toBe(
      "(WorkflowType = 'upgradePlatform' OR WorkflowType = 'upgradeComponent') AND (AegisEnvironment = 'default' OR " +
        "(AegisEnvironment IS NULL AND WorkflowId STARTS_WITH 'aegis-upgrade-default')) AND ExecutionStatus = 'Running'",
    );
  });
});

describe('isUpgradeOf', () => {
  const run = (environment: string | undefined, memo?: object) => ({
    typedSearchAttributes: new TypedSearchAttributes(
      environment === undefined ? [] : [{ key: AegisEnvironment, value: environment }],
    ),
    memo: memo as Record<string, unknown> | undefined,
  });

  it('believes the attribute', () => {
    expect(isUpgradeOf(run('prod'), 'prod')).toBe(true);
    expect(isUpgradeOf(run('prod2', { environment: 'prod' }), 'prod')).toBe(false);
  });

  it("takes an upgrade from before the attributes by its memo: the ID's prefix also finds prod2's", () => {
    expect(isUpgradeOf(run(undefined, { environment: 'prod' }), 'prod')).toBe(true);
    expect(isUpgradeOf(run(undefined, { environment: 'prod2' }), 'prod')).toBe(false);
    expect(isUpgradeOf(run(undefined), 'prod')).toBe(false);
  });
});

describe('unregisteredSearchAttributes', () => {
  it("turns the server's refusal, wherever in the chain, into what to do", () => {
    const refusal = new Error(
      '3 INVALID_ARGUMENT: Namespace default has no mapping defined for search attribute AegisEnvironment',
    );
    const error = unregisteredSearchAttributes(new Error('Failed to start', { cause: refusal }));

    expect(error).toBeInstanceOf(UsageError);
    expect(error?.message).toBe(
      'The Temporal namespace does not know the search attribute AegisEnvironment: run `aegis-upgrade setup` once ' +
        'to register the attributes upgrades are found by',
    );
  });

  it('knows the refusal of a query too', () => {
    const refusal = new Error(
      "3 INVALID_ARGUMENT: invalid query: invalid expression: column name 'AegisPhase' is not a valid search attribute",
    );
    expect(unregisteredSearchAttributes(refusal)?.message).toContain('does not know the search attribute AegisPhase');
  });

  it('leaves any other error alone', () => {
    expect(unregisteredSearchAttributes(new Error('3 INVALID_ARGUMENT: something else'))).toBeUndefined();
    expect(unregisteredSearchAttributes('not an error')).toBeUndefined();
  });
});

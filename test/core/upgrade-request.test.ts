import { DEFAULT_APPROVAL_TIMEOUT } from '../../src/core/upgrade';
import { InvalidUpgradeRequest, parseUpgradeRequest, requestedVersion } from '../../src/core/upgrade-request';
import { BAD_REQUESTS } from '../helpers/bad-requests';

/** The InvalidUpgradeRequest that parsing `input` throws; fails the test when it throws nothing or something else. */
function refusal(input: unknown): InvalidUpgradeRequest {
  try {
    parseUpgradeRequest(input);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidUpgradeRequest);
    return error as InvalidUpgradeRequest;
  }
  throw new Error(`Expected ${JSON.stringify(input)} to be refused, but it was accepted`);
}

describe('parseUpgradeRequest refuses', () => {
  it('at least 40 bad requests, each for its own reason', () => {
    expect(BAD_REQUESTS.length).toBeGreaterThanOrEqual(40);
    expect(new Set(BAD_REQUESTS.map((bad) => bad.name)).size).toBe(BAD_REQUESTS.length);
  });

  it.each(BAD_REQUESTS.map((bad) => [bad.name, bad] as const))('%s', (_, { request, says }) => {
    const error = refusal(request);

    expect(error.name).toBe('InvalidUpgradeRequest');
    for (const fragment of says) expect(error.message).toContain(fragment);
  });

  it('lists each problem once, in the message and in `problems`', () => {
    const error = refusal({ targetVersion: '', pods: ['core', 'core'], dryRun: 'yes' });

    expect(error.problems).toEqual([
      'Expected `targetVersion` to be an image tag like 1.3.0, got ``',
      '`pods` lists pod `core` more than once',
      'Expected `dryRun` to be true or false, got `"yes"`',
    ]);
    expect(error.message).toBe(error.problems.join('; '));
  });

  it('names a pod listed three times once', () => {
    expect(refusal({ targetVersion: '1.3.0', pods: ['core', 'core', 'core'] }).problems).toEqual([
      '`pods` lists pod `core` more than once',
    ]);
  });

  it('a request of thousands of fields by its size, reading none of them', () => {
    // Near-misses of `targetVersion`: each one read would be a typo to suggest a field for.
    const fields = Object.fromEntries(Array.from({ length: 20_000 }, (_, index) => [`targetVersio${index}`, 1]));

    expect(refusal({ targetVersion: '1.3.0', ...fields }).problems).toEqual([
      'Expected the upgrade request to have at most 100 fields, got 20001: send only targetVersion, pods, strategy, ' +
        'restoreDatabase, approveBefore, approvalTimeout, dryRun, redeployAll, concurrentAfterCore, restoreFrom, refreshMovingImages',
    ]);
  });

  it('does not suggest a field for a name far from all of them', () => {
    expect(refusal({ targetVersion: '1.3.0', rollback: 'auto' }).message).not.toContain('did you mean');
  });
});

describe('parseUpgradeRequest accepts', () => {
  it('a bare version, with every default applied (no gate, so no approval timeout)', () => {
    expect(parseUpgradeRequest({ targetVersion: '1.3.0' })).toEqual({
      targetVersion: '1.3.0',
      strategy: 'rolling',
      restoreDatabase: 'auto',
      approveBefore: [],
      dryRun: false,
    });
  });

  it('a gate, which waits the default approval timeout when none is given', () => {
    expect(parseUpgradeRequest({ targetVersion: '1.3.0', approveBefore: ['core'] }).approvalTimeout).toBe(
      DEFAULT_APPROVAL_TIMEOUT,
    );
    expect(DEFAULT_APPROVAL_TIMEOUT).toBe('24 hours');
  });

  it('every field, kept as given', () => {
    const request = {
      targetVersion: '1.3.0-pre-alpha',
      pods: ['seal-gateway', 'core'],
      strategy: 'rolling',
      restoreDatabase: 'never',
      approveBefore: ['core'],
      approvalTimeout: '30 minutes',
      dryRun: true,
      restoreFrom: '20261126T031500Z-1.2.0-to-1.3.0',
    };

    expect(parseUpgradeRequest(request)).toEqual(request);
  });

  it('concurrentAfterCore with a gate before core', () => {
    expect(
      parseUpgradeRequest({ targetVersion: '1.3.0', concurrentAfterCore: true, approveBefore: ['core'] }),
    ).toMatchObject({ concurrentAfterCore: true, approveBefore: ['core'] });
  });

  it('redeployAll, kept only when true', () => {
    expect(parseUpgradeRequest({ targetVersion: '1.3.0', redeployAll: true })).toMatchObject({ redeployAll: true });
    expect(parseUpgradeRequest({ targetVersion: '1.3.0', redeployAll: false })).not.toHaveProperty('redeployAll');
  });

  it('null as an absent field, as many clients write one', () => {
    expect(parseUpgradeRequest({ targetVersion: '1.3.0', pods: null, approvalTimeout: null, dryRun: null })).toEqual(
      parseUpgradeRequest({ targetVersion: '1.3.0' }),
    );
  });

  it('a full upgrade without pods', () => {
    expect(parseUpgradeRequest({ targetVersion: '1.3.0', strategy: 'full' })).toMatchObject({ strategy: 'full' });
  });

  it('an approval before a pod of the default order', () => {
    expect(parseUpgradeRequest({ targetVersion: '1.3.0', approveBefore: ['core'] })).not.toHaveProperty('pods');
  });

  it.each(['5 seconds', '1s', '30 minutes', '2h', '1.5 hours', '7 days', '1w'])(
    'the approval timeout %s',
    (timeout) => {
      expect(
        parseUpgradeRequest({ targetVersion: '1.3.0', approveBefore: ['core'], approvalTimeout: timeout }),
      ).toMatchObject({ approvalTimeout: timeout });
    },
  );

  it.each(['1.3.0', '1.3', 'latest', 'sha-0a1b2c3', '_', 'a'.repeat(128)])('the image tag %s', (targetVersion) => {
    expect(parseUpgradeRequest({ targetVersion }).targetVersion).toBe(targetVersion);
  });

  it.each([{ targetVersion: '1.3.0' }, { targetVersion: '1.3.0', approveBefore: ['core'] }])(
    'its own answer again, unchanged: the CLI sends the parsed request to the workflow, which parses it (%j)',
    (input) => {
      const parsed = parseUpgradeRequest(input);

      expect(parseUpgradeRequest(parsed)).toEqual(parsed);
    },
  );

  it('and returns a copy: the caller cannot change the request afterwards', () => {
    const pods = ['core'];
    const parsed = parseUpgradeRequest({ targetVersion: '1.3.0', pods });
    pods.push('database');

    expect(parsed.pods).toEqual(['core']);
  });
});

describe('requestedVersion', () => {
  it('is the target version of a request, valid or not otherwise', () => {
    expect(requestedVersion({ targetVersion: '1.3.0', pods: 'core' })).toBe('1.3.0');
  });

  it('is ? when there is no usable version, whatever the input', () => {
    for (const input of [undefined, null, '1.3.0', [], {}, { targetVersion: '1.3.0\nX=1' }, { targetVersion: 7 }]) {
      expect(requestedVersion(input)).toBe('?');
    }
  });
});

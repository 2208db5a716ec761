import { UsageError } from '../../src/cli/errors';
import { upgradeRequest } from '../../src/cli/upgrades';
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

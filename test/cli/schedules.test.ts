import type { Client } from '@temporalio/client';
import { createSchedule } from '../../src/cli/schedules';
import { UsageError } from '../../src/cli/errors';
import type { UpgradeRequest } from '../../src/upgrade';

describe('createSchedule', () => {
  it('refuses a bad request before it creates anything: it would fail every window, unattended', async () => {
    const create = jest.fn();
    const client = { schedule: { create } } as unknown as Client;
    const request = { targetVersion: '1.3.0', restoreDatabse: 'never' } as UpgradeRequest;

    const created = createSchedule(client, 'aegis-upgrades', request, 'default', { cronExpressions: ['0 3 * * SUN'] });

    await expect(created).rejects.toThrow(UsageError);
    await expect(created).rejects.toThrow('Unknown field `restoreDatabse`: did you mean `restoreDatabase`?');
    expect(create).not.toHaveBeenCalled();
  });

  it('schedules the request with its defaults applied', async () => {
    const create = jest.fn();
    const client = { schedule: { create } } as unknown as Client;

    await createSchedule(client, 'aegis-upgrades', { targetVersion: '1.3.0' }, 'default', {
      cronExpressions: ['0 3 * * SUN'],
    });

    expect(create.mock.calls[0]?.[0]).toMatchObject({
      action: { args: [{ targetVersion: '1.3.0', strategy: 'rolling', restoreDatabase: 'auto', dryRun: false }] },
    });
  });
});

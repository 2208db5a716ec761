import { ScheduleAlreadyRunning, ScheduleNotFoundError, type Client } from '@temporalio/client';
import { createSchedule, deleteSchedule, triggerSchedule } from '../../src/cli/schedules';
import { UsageError } from '../../src/cli/errors';
import type { UpgradeRequest } from '../../src/core/upgrade';

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

describe("the server's refusals of a schedule", () => {
  const request: UpgradeRequest = { targetVersion: '1.3.0' };
  const spec = { cronExpressions: ['0 3 * * SUN'] };
  const refusedWith = async (work: Promise<unknown>) => {
    const error: unknown = await work.then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(UsageError);
    return (error as UsageError).message;
  };

  it('says one already exists, and how to replace it', async () => {
    const create = jest.fn().mockRejectedValue(new ScheduleAlreadyRunning('exists', 'aegis-upgrade-staging'));
    const client = { schedule: { create } } as unknown as Client;

    expect(await refusedWith(createSchedule(client, 'aegis-upgrades', request, 'staging', spec))).toBe(
      'Schedule aegis-upgrade-staging exists already: `aegis-upgrade schedule delete --env staging` first',
    );
  });

  it('says the window the server cannot read is refused, with its reason', async () => {
    const create = jest.fn().mockRejectedValue(new TypeError('invalid cron string "0 3 * *"'));
    const client = { schedule: { create } } as unknown as Client;

    expect(await refusedWith(createSchedule(client, 'aegis-upgrades', request, 'staging', spec))).toBe(
      'The server refused the window (--cron \'0 3 * * SUN\', --timezone UTC): invalid cron string "0 3 * *"',
    );
  });

  it('says there is none to delete or trigger, and where to look', async () => {
    const missing = () => Promise.reject(new ScheduleNotFoundError('not found', 'aegis-upgrade-staging'));
    const client = { schedule: { getHandle: () => ({ delete: missing, describe: missing }) } } as unknown as Client;
    const message = 'No schedule aegis-upgrade-staging: `aegis-upgrade schedule list` shows the schedules there are';

    expect(await refusedWith(deleteSchedule(client, 'staging'))).toBe(message);
    expect(await refusedWith(triggerSchedule(client, 'staging'))).toBe(message);
  });

  it('leaves any other failure as it is: an unexpected error keeps its stack', async () => {
    const failure = new Error('connection reset');
    const create = jest.fn().mockRejectedValue(failure);
    const client = { schedule: { create } } as unknown as Client;

    await expect(createSchedule(client, 'aegis-upgrades', request, 'staging', spec)).rejects.toBe(failure);
  });
});

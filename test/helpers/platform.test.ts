import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { backupsIn, commandLog } from './platform';

/** "Nothing changed" is read from the sandbox's records: a record that is not there fails the check. */
describe('the sandbox records the tests read', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-records-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  test('the command log: read when it is there, a failure when it is missing or not named', async () => {
    const log = path.join(dir, 'commands.log');
    await fs.writeFile(log, '2026-12-06T01:00:00Z redeploy POD=core AEGIS_IMAGE_TAG=1.3.0\n');
    expect(await commandLog({ AEGIS_SANDBOX_COMMAND_LOG: log })).toEqual(['redeploy POD=core AEGIS_IMAGE_TAG=1.3.0']);
    await fs.writeFile(log, '');
    expect(await commandLog({ AEGIS_SANDBOX_COMMAND_LOG: log })).toEqual([]);

    await fs.rm(log);
    await expect(commandLog({ AEGIS_SANDBOX_COMMAND_LOG: log })).rejects.toThrow(`command log ${log} cannot be read`);
    await expect(commandLog({})).rejects.toThrow('AEGIS_SANDBOX_COMMAND_LOG is not set');
  });

  test('the backups: listed when the directory is there, a failure when it is missing', async () => {
    await fs.mkdir(path.join(dir, 'backups'));
    expect(await backupsIn(dir)).toEqual([]);
    await fs.mkdir(path.join(dir, 'backups', '20261206T010000Z-1.2.0-to-1.3.0'));
    expect(await backupsIn(dir)).toEqual(['20261206T010000Z-1.2.0-to-1.3.0']);

    await expect(backupsIn(path.join(dir, 'elsewhere'))).rejects.toThrow('backup directory');
  });
});

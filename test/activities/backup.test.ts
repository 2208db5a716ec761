import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { backupDirectory, checkBackupLocation, createBackupActivities } from '../../src/activities/backup';
import type { Deployment } from '../../src/host/deployment';
import { activityEnvironment } from '../helpers/activity-environment';
import { InvalidActivityInput } from '../../src/core/errors';

const BACKUP_DIR = '/srv/aegis-deploy/backups';

describe('backupDirectory', () => {
  it('is the backup id directly inside the backup directory', () => {
    expect(backupDirectory(BACKUP_DIR, '20261126T031500Z-1.2.0-to-1.3.0')).toBe(
      `${BACKUP_DIR}/20261126T031500Z-1.2.0-to-1.3.0`,
    );
  });

  it.each(['../../x', '..', '.', 'a/b', '/etc', '.hidden', '', 'a\nb', 'a b', 'x'.repeat(256)])(
    'refuses %j, which is not a plain name',
    (backupId) => {
      expect(() => backupDirectory(BACKUP_DIR, backupId)).toThrow(InvalidActivityInput);
      expect(() => backupDirectory(BACKUP_DIR, backupId)).toThrow('Expected `backupId` to be a plain directory name');
    },
  );
});

describe('checkBackupLocation', () => {
  it('accepts a backup as backUpDatabases records it', () => {
    const location = backupDirectory(BACKUP_DIR, '20261126T031500Z-1.2.0-to-1.3.0');

    expect(checkBackupLocation(BACKUP_DIR, location)).toBe(location);
  });

  it.each([
    '/etc',
    BACKUP_DIR,
    `${BACKUP_DIR}/../secrets`,
    `${BACKUP_DIR}/a/b`,
    `${BACKUP_DIR}/..`,
    'backups/20261126T031500Z-1.2.0-to-1.3.0',
    `${BACKUP_DIR}-other/x`,
  ])('refuses %s, which is not a directory directly inside the backup directory', (location) => {
    expect(() => checkBackupLocation(BACKUP_DIR, location)).toThrow(
      `Expected \`backup.location\` to be a directory directly inside ${BACKUP_DIR}, got \`${location}\``,
    );
  });
});

describe('the backup activities refuse a path outside the backup directory before touching anything', () => {
  let root: string;
  let deployment: Deployment;
  const podman = jest.fn();

  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-backup-'));
    await fs.mkdir(path.join(root, 'backups'));
    podman.mockReset();
    deployment = {
      root,
      config: { aegis: { backupDir: path.join(root, 'backups') } },
      podman,
      psql: podman,
      env: async () => new Map(),
    } as unknown as Deployment;
  });
  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it('backUpDatabases with backupId ../../x', async () => {
    const { backUpDatabases } = createBackupActivities(deployment);

    await expect(
      activityEnvironment().run(backUpDatabases, {
        backupId: '../../x',
        fromVersion: '1.2.0',
        toVersion: '1.3.0',
      }),
    ).rejects.toThrow(InvalidActivityInput);

    expect(await fs.readdir(root)).toEqual(['backups']);
    expect(await fs.readdir(path.join(root, 'backups'))).toEqual([]);
    expect(podman).not.toHaveBeenCalled();
  });

  it('restoreDatabase from a location outside it', async () => {
    const { restoreDatabase } = createBackupActivities(deployment);

    await expect(
      activityEnvironment().run(restoreDatabase, {
        backup: { location: path.join(root, 'backups', '..'), files: [] },
        policy: 'always' as const,
      }),
    ).rejects.toThrow(InvalidActivityInput);

    expect(podman).not.toHaveBeenCalled();
  });
});

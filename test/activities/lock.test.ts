import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { UpgradeLocked } from '../../src/activities/errors';
import { acquireLock, lockPath, releaseLock } from '../../src/activities/lock';

describe('the deployment lock', () => {
  let root: string;

  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-lock-'));
  });
  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it('writes a lock file in the checkout naming its owner', async () => {
    await acquireLock(root, 'upgrade-1.3.0-a');

    expect(lockPath(root)).toBe(path.join(root, '.aegis-upgrade.lock'));
    expect(JSON.parse(await fs.readFile(lockPath(root), 'utf8'))).toEqual({
      owner: 'upgrade-1.3.0-a',
      since: expect.any(String),
    });
  });

  it('lets the same owner take it again, as a retried pre-flight does', async () => {
    await acquireLock(root, 'upgrade-1.3.0-a');

    await expect(acquireLock(root, 'upgrade-1.3.0-a')).resolves.toBeUndefined();
  });

  it('refuses another owner with UpgradeLocked naming the holder', async () => {
    await acquireLock(root, 'upgrade-1.3.0-a');

    const refusal = acquireLock(root, 'upgrade-1.4.0-b');

    await expect(refusal).rejects.toBeInstanceOf(UpgradeLocked);
    await expect(refusal).rejects.toThrow('locked by upgrade `upgrade-1.3.0-a`');
    await expect(refusal).rejects.toThrow(lockPath(root));
  });

  it('keeps the lock when someone else releases it', async () => {
    await acquireLock(root, 'upgrade-1.3.0-a');

    await releaseLock(root, 'upgrade-1.4.0-b');

    await expect(fs.access(lockPath(root))).resolves.toBeUndefined();
    await expect(acquireLock(root, 'upgrade-1.4.0-b')).rejects.toBeInstanceOf(UpgradeLocked);
  });

  it('frees the lock for the next upgrade once its owner releases it', async () => {
    await acquireLock(root, 'upgrade-1.3.0-a');

    await releaseLock(root, 'upgrade-1.3.0-a');

    await expect(fs.access(lockPath(root))).rejects.toThrow();
    await expect(acquireLock(root, 'upgrade-1.4.0-b')).resolves.toBeUndefined();
  });

  it('does nothing when released without being held', async () => {
    await expect(releaseLock(root, 'upgrade-1.3.0-a')).resolves.toBeUndefined();
  });

  it('stays locked when the lock file cannot be read', async () => {
    await fs.writeFile(lockPath(root), 'not json');

    await expect(acquireLock(root, 'upgrade-1.3.0-a')).rejects.toThrow('locked by upgrade `unknown`');
  });
});

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { checkDowngrade, compareVersions } from '../../src/host/downgrade';
import { PreflightFailed } from '../../src/core/errors';

describe('compareVersions', () => {
  it.each([
    ['1.2.0', '1.3.0', -1],
    ['1.10.0', '1.9.9', 1],
    ['2.0.0', '2.0.0', 0],
    ['1.3.0-rc.1', '1.3.0', -1],
    ['1.3.0-pre-alpha', '1.2.9', 1],
    ['1.3.0-rc.10', '1.3.0-rc.9', 1],
    ['1.3.0-rc.9', '1.3.0-rc.10', -1],
    ['1.3.0-alpha', '1.3.0-alpha.1', -1],
  ])('%s against %s', (a, b, sign) => {
    expect(Math.sign(compareVersions(a, b) ?? NaN)).toBe(sign);
  });

  it.each([
    ['latest', '1.3.0'],
    ['1.3', '1.3.0'],
    ['sha-0a1b2c3', '1.3.0'],
  ])('%s has no order against %s', (a, b) => {
    expect(compareVersions(a, b)).toBeUndefined();
  });
});

describe('checkDowngrade', () => {
  let backupDir: string;
  beforeAll(async () => {
    backupDir = await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-upgrade-downgrade-'));
    for (const [id, fromVersion] of [
      ['20261001T030000Z-1.2.0-to-1.3.0', '1.2.0'],
      ['20261101T030000Z-1.1.0-to-1.2.0', '1.1.0'],
    ]) {
      await fs.mkdir(path.join(backupDir, id as string));
      await fs.writeFile(
        path.join(backupDir, id as string, 'manifest.json'),
        JSON.stringify({ fromVersion, toVersion: '1.3.0', files: [{ name: 'aegis.dump', bytes: 1, sha256: 'x' }] }),
      );
    }
  });
  afterAll(() => fs.rm(backupDir, { recursive: true, force: true }));

  it('lets an upgrade, the same version and versions without an order through, restoring nothing', async () => {
    for (const [targetVersion, running] of [
      ['1.3.0', '1.2.0'],
      ['1.3.0', '1.3.0'],
      ['1.2.0', 'latest'],
    ]) {
      await expect(
        checkDowngrade({ targetVersion: targetVersion as string }, running as string, backupDir),
      ).resolves.toBeUndefined();
    }
  });

  it('refuses a downgrade without a backup, saying why and how to proceed', async () => {
    const error = await refusal(checkDowngrade({ targetVersion: '1.2.0' }, '1.3.0', backupDir));
    expect(error.message).toContain('1.2.0 is older than the running 1.3.0');
    expect(error.message).toContain('`restoreFrom`');
  });

  it('takes the backup taken when the platform left the target', async () => {
    const id = '20261001T030000Z-1.2.0-to-1.3.0';
    await expect(checkDowngrade({ targetVersion: '1.2.0', restoreFrom: id }, '1.3.0', backupDir)).resolves.toEqual({
      location: path.join(backupDir, id),
      files: [{ name: 'aegis.dump', bytes: 1, sha256: 'x' }],
    });
  });

  it('refuses a backup of another version', async () => {
    const request = { targetVersion: '1.2.0', restoreFrom: '20261101T030000Z-1.1.0-to-1.2.0' };
    const error = await refusal(checkDowngrade(request, '1.3.0', backupDir));
    expect(error.message).toContain('was taken on 1.1.0, not on 1.2.0');
  });

  it('refuses an unknown backup', async () => {
    const request = { targetVersion: '1.2.0', restoreFrom: 'no-such-backup' };
    const error = await refusal(checkDowngrade(request, '1.3.0', backupDir));
    expect(error.message).toContain('No finished backup `no-such-backup`');
  });

  it('refuses restoreFrom on an upgrade', async () => {
    const request = { targetVersion: '1.3.0', restoreFrom: '20261001T030000Z-1.2.0-to-1.3.0' };
    const error = await refusal(checkDowngrade(request, '1.2.0', backupDir));
    expect(error.message).toContain('`restoreFrom` is for a downgrade only');
  });
});

/** The PreflightFailed a check rejects with. */
async function refusal(check: Promise<unknown>): Promise<PreflightFailed> {
  const error: unknown = await check.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(PreflightFailed);
  return error as PreflightFailed;
}

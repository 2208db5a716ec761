import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { UpgradeLockChanged, UpgradeLocked } from '../../src/core/errors';
import {
  acquireLock,
  claimableLock,
  clearLock,
  lockHistoryPath,
  lockPath,
  readLock,
  releaseLock,
} from '../../src/host/lock-file';
import type { UpgradeLock } from '../../src/core/upgrade-lock';

/** Two runs of the hand-started upgrade of docs/temporal-recipes.md: the same workflow ID, each its own run. */
const FIRST = { workflowId: 'aegis-upgrade-default', runId: 'run-1', fromVersion: '1.2.0', toVersion: '1.3.0' };
const SECOND = { ...FIRST, runId: 'run-2', fromVersion: '1.3.0', toVersion: '1.3.1' };
const SCHEDULED = { ...FIRST, workflowId: 'aegis-upgrade-default-2025-06-01T03:00:00Z', runId: 'run-3' };
const owner = ({ workflowId, runId }: { workflowId: string; runId: string }) => ({ workflowId, runId });

describe('the deployment lock', () => {
  let root: string;

  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-lock-'));
  });
  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  const refusal = async (lock: Omit<UpgradeLock, 'since'>): Promise<UpgradeLocked> => {
    const error: unknown = await acquireLock(root, lock).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(UpgradeLocked);
    return error as UpgradeLocked;
  };

  it('tells pre-flight whether a run may take it: free, its own, or refused naming the holder, taking nothing', async () => {
    expect(await claimableLock(root, owner(FIRST))).toBe('free');
    await acquireLock(root, FIRST);

    expect(await claimableLock(root, owner(FIRST))).toBe('ours');
    await expect(claimableLock(root, owner(SECOND))).rejects.toThrow(UpgradeLocked);
    await expect(claimableLock(root, owner(SECOND))).rejects.toThrow('run-1');
    expect(JSON.parse(await fs.readFile(lockPath(root), 'utf8'))).toMatchObject(FIRST);
  });

  it('writes a lock file in the checkout, 0600, naming its run, since when, and the upgrade', async () => {
    await acquireLock(root, FIRST);

    expect(lockPath(root)).toBe(path.join(root, '.aegis-upgrade.lock'));
    expect(JSON.parse(await fs.readFile(lockPath(root), 'utf8'))).toEqual({ ...FIRST, since: expect.any(String) });
    expect((await fs.stat(lockPath(root))).mode & 0o777).toBe(0o600);
    // The draft it was linked from is gone.
    expect(await fs.readdir(root)).toEqual(['.aegis-upgrade.lock']);
  });

  it('lets the same run take it again, as a retried pre-flight does, and keeps its first `since`', async () => {
    await acquireLock(root, FIRST);
    const before = await fs.readFile(lockPath(root), 'utf8');

    await expect(acquireLock(root, FIRST)).resolves.toBeUndefined();
    expect(await fs.readFile(lockPath(root), 'utf8')).toBe(before);
  });

  it('refuses a new run under the same workflow ID, naming the holding run and the unlock command', async () => {
    await acquireLock(root, FIRST);

    const { message } = await refusal(SECOND);

    expect(message).toContain('locked by upgrade `aegis-upgrade-default` (run run-1, 1.2.0 → 1.3.0) since 20');
    expect(message).toContain('RollbackFailed or terminated');
    expect(message).toContain('`aegis-upgrade status --env default`');
    expect(message).toContain('`aegis-upgrade unlock --env default`');
  });

  it("names the environment of a schedule's run in the commands it gives", async () => {
    await acquireLock(root, SCHEDULED);

    expect((await refusal(FIRST)).message).toContain('`aegis-upgrade unlock --env default`');
  });

  it("keeps the lock when another run releases it, even one with the holder's workflow ID", async () => {
    await acquireLock(root, FIRST);

    await releaseLock(root, owner(SECOND));
    await releaseLock(root, { workflowId: 'aegis-upgrade-other', runId: 'run-1' });

    await expect(readLock(root)).resolves.toMatchObject({ state: 'held', lock: FIRST });
  });

  it('frees the lock for the next upgrade once its run releases it', async () => {
    await acquireLock(root, FIRST);

    await releaseLock(root, owner(FIRST));

    await expect(readLock(root)).resolves.toEqual({ path: lockPath(root), state: 'free' });
    await expect(acquireLock(root, SECOND)).resolves.toBeUndefined();
  });

  it('does nothing when released without being held', async () => {
    await expect(releaseLock(root, owner(FIRST))).resolves.toBeUndefined();
  });

  it.each([
    ['empty, as a crash between creating and writing it left it', '', 'it is empty'],
    ['not JSON', 'not json', 'it holds `not json`'],
    [
      'the old format, owned by a workflow ID',
      '{"owner":"aegis-upgrade-default","since":"x"}',
      'it holds `{"owner":"aegis-upgrade-default"',
    ],
  ])('reports a lock file that is %s with its path, its content and the unlock command', async (_, text, says) => {
    await fs.writeFile(lockPath(root), text);

    const { message } = await refusal(SECOND);

    expect(message).toContain(`The upgrade lock ${lockPath(root)} names no upgrade (${says}`);
    expect(message).toContain('`aegis-upgrade unlock --env default`');
    expect(message).not.toContain('unknown');
    await expect(releaseLock(root, owner(SECOND))).resolves.toBeUndefined();
    expect(await fs.readFile(lockPath(root), 'utf8')).toBe(text);
  });

  it('never leaves an empty lock: a crash between creating a file and writing it leaves the lock free', async () => {
    // The crash: the file is created, nothing is written, and the process goes no further.
    const crash = jest.spyOn(fs, 'writeFile').mockImplementationOnce(async (file) => {
      await (await fs.open(file as string, 'wx')).close();
      throw new Error('killed');
    });

    await expect(acquireLock(root, FIRST)).rejects.toThrow('killed');
    crash.mockRestore();

    await expect(readLock(root)).resolves.toMatchObject({ state: 'free' });
    await expect(acquireLock(root, SECOND)).resolves.toBeUndefined();
  });

  it('lets exactly one of many runs racing for it win', async () => {
    const runs = Array.from({ length: 20 }, (_, index) => ({ ...FIRST, runId: `run-${index}` }));

    const outcomes = await Promise.allSettled(runs.map((run) => acquireLock(root, run)));

    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
    const found = await readLock(root);
    expect(found.state).toBe('held');
    expect(await fs.readdir(root)).toEqual(['.aegis-upgrade.lock']);
  });
});

describe('clearing the lock (unlock)', () => {
  let root: string;
  const clearance = { clearedBy: 'alice@ops', reason: 'rolled back by hand', unlockWorkflowId: 'aegis-unlock-x' };

  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-unlock-'));
  });
  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  const history = async () =>
    (await fs.readFile(lockHistoryPath(root), 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as unknown);

  it('removes the lock it checked and appends who cleared it, when and why, with the old lock, 0600', async () => {
    await acquireLock(root, FIRST);
    const checked = await readLock(root);

    const cleared = await clearLock(root, checked, { ...clearance, clearedAt: '2025-06-01T10:00:00Z' });

    expect(cleared).toEqual({
      ...clearance,
      clearedAt: '2025-06-01T10:00:00Z',
      previous: { ...FIRST, since: expect.any(String) },
    });
    await expect(readLock(root)).resolves.toMatchObject({ state: 'free' });
    expect(await history()).toEqual([cleared]);
    expect((await fs.stat(lockHistoryPath(root))).mode & 0o777).toBe(0o600);
  });

  it('appends to the history, never rewrites it', async () => {
    await acquireLock(root, FIRST);
    const first = await clearLock(root, await readLock(root), { ...clearance, clearedAt: 't1' });
    await acquireLock(root, SECOND);
    const second = await clearLock(root, await readLock(root), { ...clearance, clearedAt: 't2' });

    expect(await history()).toEqual([first, second]);
  });

  it('clears a lock that names no owner, recording what it held', async () => {
    await fs.writeFile(lockPath(root), '');

    const cleared = await clearLock(root, await readLock(root), { ...clearance, clearedAt: 't' });

    expect(cleared?.previous).toEqual({ unreadable: 'it is empty' });
    await expect(readLock(root)).resolves.toMatchObject({ state: 'free' });
  });

  it('leaves a lock that another run took since the check, and says so', async () => {
    await acquireLock(root, FIRST);
    const checked = await readLock(root);
    await releaseLock(root, owner(FIRST));
    await acquireLock(root, SECOND);

    const attempt = clearLock(root, checked, { ...clearance, clearedAt: 't' });

    await expect(attempt).rejects.toBeInstanceOf(UpgradeLockChanged);
    await expect(attempt).rejects.toThrow('now held by upgrade `aegis-upgrade-default` (run run-2)');
    await expect(readLock(root)).resolves.toMatchObject({ state: 'held', lock: SECOND });
    await expect(fs.access(lockHistoryPath(root))).rejects.toThrow();
  });

  it('clears nothing and records nothing when the lock is already free', async () => {
    await expect(clearLock(root, await readLock(root), { ...clearance, clearedAt: 't' })).resolves.toBeUndefined();
    await expect(fs.access(lockHistoryPath(root))).rejects.toThrow();
  });
});

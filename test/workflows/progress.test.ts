import { ProgressLog, errorMessage } from '../../src/workflows/progress';

const START = Date.parse('2026-11-26T03:00:00.000Z');

/** Moves the clock the log reads; `Date` is replayed in a workflow, faked here. */
const advance = (ms: number) => jest.setSystemTime(Date.now() + ms);

describe('ProgressLog', () => {
  let log: ProgressLog;

  beforeEach(() => {
    jest.useFakeTimers({ now: START });
    log = new ProgressLog('1.3.0');
    log.plan([
      { id: 'pull-images', title: 'Pin the running images and pull the new ones' },
      { id: 'set-tag', title: 'Set AEGIS_IMAGE_TAG in .env' },
      { id: 'validate', title: 'Validate the platform' },
    ]);
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('starts with every planned step pending, in order', () => {
    const snapshot = log.snapshot();

    expect(snapshot.steps.map((step) => [step.id, step.status])).toEqual([
      ['pull-images', 'pending'],
      ['set-tag', 'pending'],
      ['validate', 'pending'],
    ]);
    expect(snapshot).toMatchObject({ phase: 'preflight', toVersion: '1.3.0', rollback: [] });
    expect(snapshot.currentStep).toBeUndefined();
  });

  it('adds a step planned twice only once', () => {
    log.plan([
      { id: 'set-tag', title: 'again' },
      { id: 'redeploy:core', title: 'Redeploy core' },
    ]);

    expect(log.snapshot().steps.map((step) => step.id)).toEqual([
      'pull-images',
      'set-tag',
      'validate',
      'redeploy:core',
    ]);
    expect(log.snapshot().steps[1]?.title).toBe('Set AEGIS_IMAGE_TAG in .env');
  });

  it('shows a running step as the current one', async () => {
    let during: ReturnType<ProgressLog['snapshot']> | undefined;

    await log.run('pull-images', async () => {
      during = log.snapshot();
    });

    expect(during?.currentStep).toBe('pull-images');
    expect(during?.steps[0]).toMatchObject({ status: 'running', startedAt: '2026-11-26T03:00:00.000Z' });
    expect(log.snapshot().currentStep).toBeUndefined();
  });

  it('records a succeeded step with its end, duration and the detail `describe` gives', async () => {
    const result = await log.run(
      'set-tag',
      async () => {
        advance(1_500);
        return '1.2.0';
      },
      (previous) => `${previous} → 1.3.0`,
    );

    expect(result).toBe('1.2.0');
    expect(log.snapshot().steps[1]).toEqual({
      id: 'set-tag',
      title: 'Set AEGIS_IMAGE_TAG in .env',
      status: 'succeeded',
      startedAt: '2026-11-26T03:00:00.000Z',
      endedAt: '2026-11-26T03:00:01.500Z',
      durationMs: 1_500,
      detail: '1.2.0 → 1.3.0',
    });
  });

  it('records a failed step with the innermost error message, and rethrows', async () => {
    const failure = new Error('Activity task failed', {
      cause: new Error('`make redeploy POD=core` failed with exit code 2: registry-login: GHCR_TOKEN is empty'),
    });

    await expect(
      log.run('pull-images', async () => {
        advance(250);
        throw failure;
      }),
    ).rejects.toBe(failure);

    expect(log.snapshot().steps[0]).toMatchObject({
      status: 'failed',
      durationMs: 250,
      detail: '`make redeploy POD=core` failed with exit code 2: registry-login: GHCR_TOKEN is empty',
    });
  });

  it('records a skipped step with its reason and no duration', () => {
    log.skip('validate', 'dry run');

    expect(log.snapshot().steps[2]).toEqual({
      id: 'validate',
      title: 'Validate the platform',
      status: 'skipped',
      endedAt: '2026-11-26T03:00:00.000Z',
      detail: 'dry run',
    });
  });

  it('shows its observer each step as it starts and ends, with its status, duration and detail', async () => {
    const seen: string[] = [];
    const observed = new ProgressLog('1.3.0', {
      started: (step) => seen.push(`${step.id} ${step.status}`),
      ended: (step) => seen.push(`${step.id} ${step.status} ${step.durationMs} ${step.detail}`),
    });
    observed.plan([
      { id: 'set-tag', title: 'Set AEGIS_IMAGE_TAG in .env' },
      { id: 'validate', title: 'Validate the platform' },
    ]);

    await observed.run(
      'set-tag',
      async () => advance(1_500),
      () => '1.2.0 → 1.3.0',
    );
    await observed
      .run('validate', async () => {
        advance(250);
        throw new Error('runtime unhealthy');
      })
      .catch(() => undefined);

    expect(seen).toEqual([
      'set-tag running',
      'set-tag succeeded 1500 1.2.0 → 1.3.0',
      'validate running',
      'validate failed 250 runtime unhealthy',
    ]);
  });

  it('refuses to run a step that was not planned', async () => {
    await expect(log.run('redeploy:core', async () => 'done')).rejects.toThrow('No step `redeploy:core` was planned');
  });

  it('keeps rollback steps apart from the upgrade steps', async () => {
    log.plan([{ id: 'rollback:tag', title: 'Set AEGIS_IMAGE_TAG back to 1.2.0' }], true);

    await log.run('rollback:tag', async () => undefined);

    const snapshot = log.snapshot();
    expect(snapshot.steps.map((step) => step.id)).not.toContain('rollback:tag');
    expect(snapshot.rollback).toEqual([expect.objectContaining({ id: 'rollback:tag', status: 'succeeded' })]);
  });

  it('marks only the steps that ran as rolled back', async () => {
    await log.run('set-tag', async () => '1.2.0');

    log.markRolledBack(['set-tag', 'validate']);

    expect(log.snapshot().steps.map((step) => step.status)).toEqual(['pending', 'rolled-back', 'pending']);
  });

  it('leaves the failed step failed when the others are rolled back', async () => {
    await log.run('pull-images', async () => undefined);
    await expect(
      log.run('set-tag', async () => {
        throw new Error('disk full');
      }),
    ).rejects.toThrow('disk full');

    log.markRolledBack(['pull-images', 'set-tag']);

    expect(log.snapshot().steps.map((step) => step.status)).toEqual(['rolled-back', 'failed', 'pending']);
  });

  it('hands out snapshots that later changes do not touch', async () => {
    const before = log.snapshot();

    await log.run('pull-images', async () => undefined);

    expect(before.steps[0]?.status).toBe('pending');
  });
});

describe('errorMessage', () => {
  it('returns the message of the innermost cause', () => {
    const error = new Error('Activity task failed', {
      cause: new Error('ApplicationFailure', { cause: new Error('The runtime failed to migrate: Failed to apply') }),
    });

    expect(errorMessage(error)).toBe('The runtime failed to migrate: Failed to apply');
  });

  it('returns the message of an error without a cause', () => {
    expect(errorMessage(new Error('Pod aegis-core not ready'))).toBe('Pod aegis-core not ready');
  });

  it('stops at a cause that is not an error', () => {
    expect(errorMessage(new Error('outer', { cause: 'a string' }))).toBe('outer');
  });

  it('turns a thrown non-error into text', () => {
    expect(errorMessage('timeout')).toBe('timeout');
    expect(errorMessage(undefined)).toBe('undefined');
  });
});

import { Worker } from '@temporalio/worker';
import { readHistories, type RecordedHistory } from '../helpers/histories';

/** Bundling the workflow code takes seconds; replaying a dozen histories, well under one each. */
const REPLAY_TIMEOUT_MS = 120_000;

/**
 * Every recorded upgrade (test/histories/*.json) replayed against the current workflow code, without a server:
 * an upgrade in flight when the worker package is upgraded resumes on the new code only if this passes.
 * It fails when a change alters the command sequence without `patched()` (docs/versioning.md).
 */
describe('recorded upgrades replay on the current workflow code', () => {
  let histories: RecordedHistory[] = [];
  const results = new Map<string, string | undefined>();

  beforeAll(async () => {
    histories = await readHistories();
    const replays = Worker.runReplayHistories(
      { workflowsPath: require.resolve('../../src/workflows'), replayName: 'aegis-upgrade-replay' },
      histories.map(({ name, history }) => ({ workflowId: name, history })),
    );
    for await (const result of replays) results.set(result.workflowId, result.error?.message);
  }, REPLAY_TIMEOUT_MS);

  const endings = [
    'completed',
    'rolled-back-pull',
    'rolled-back-migrations',
    'rolled-back-redeploy-temporal',
    'rolled-back-validate',
    'refused',
    'planned',
    'cancelled',
    'approved',
    'worker-restarted',
  ];

  test('a history of every kind of ending is recorded', () => {
    const names = histories.map((recorded) => recorded.name);
    expect(names).toEqual(
      expect.arrayContaining([...endings, 'already-at-version', 'approved-early', 'approval-timed-out']),
    );
  });

  test('each replays without a nondeterminism error', () => {
    expect(results.size).toBe(histories.length);
    expect(Object.fromEntries(results)).toEqual(
      Object.fromEntries(histories.map((recorded) => [recorded.name, undefined])),
    );
  });
});

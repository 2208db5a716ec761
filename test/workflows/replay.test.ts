import { Worker } from '@temporalio/worker';
import { readHistories, scheduledCommands, workflowIdOf, type RecordedHistory } from '../helpers/histories';
import type { ScheduledCommand } from '../helpers/scheduled-commands';
import { telemetrySinks } from '../../src/worker/telemetry';

/** Bundling the workflow code takes seconds; replaying fifty histories, a few more. */
const REPLAY_TIMEOUT_MS = 120_000;

/**
 * Every recorded history (test/histories/) replayed against the current workflow code, without a server: a workflow in
 * flight when the worker package is upgraded resumes on the new code only if this passes (docs/versioning.md).
 *
 * Temporal's replay fails when the code issues commands other than the history's, in kind or order: another activity
 * type, another child workflow type or ID, a patch marker it does not expect. It compares no input, and not which
 * workflow task issued a command: pods rolled back in another order, or children started before the approval they
 * waited for, replay. So the activities, child upgrades and continue-as-new of each history recorded on the current
 * code are also compared with what the code schedules on replay: input for input, in the same workflow task.
 */
describe('recorded workflows replay on the current workflow code', () => {
  let histories: RecordedHistory[] = [];
  const errors = new Map<string, string | undefined>();
  /** What the current code scheduled on replay, by history name. */
  const replayed = new Map<string, ScheduledCommand[]>();

  beforeAll(async () => {
    histories = await readHistories();
    const byRun = new Map<string, ScheduledCommand[]>();
    const replays = Worker.runReplayHistories(
      {
        workflowsPath: require.resolve('../../src/workflows'),
        replayName: 'aegis-upgrade-replay',
        interceptors: { workflowModules: [require.resolve('../helpers/scheduled-commands')] },
        sinks: {
          ...telemetrySinks(),
          scheduling: {
            scheduled: {
              fn: ({ runId }, command: ScheduledCommand) => {
                byRun.set(runId, [...(byRun.get(runId) ?? []), command]);
              },
              callDuringReplay: true,
            },
          },
        },
      },
      // Under the ID each ran with: the workflow derives its environment, lock owner and notifications from it.
      histories.map(({ history }) => ({ workflowId: workflowIdOf(history), history })),
    );
    let index = 0;
    for await (const result of replays) {
      const { name } = histories[index++] as RecordedHistory;
      errors.set(name, result.error?.message);
      replayed.set(name, byRun.get(result.runId) ?? []);
      // A run recorded twice (at the top and under a commit) is collected afresh each time.
      byRun.delete(result.runId);
    }
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

  /** On the sandbox, a worker killed inside each step of a rollback (fault-matrix.int.test.ts). */
  const killedInRollback = ['tag', 'database', 'redeploy-core', 'redeploy-database', 'writers', 'validate'].map(
    (step) => `platform-killed-in-rollback-${step}`,
  );
  /** The other workflows: a fleet in each of its runs (a bake continued, a wave rolled back), components, unlocks. */
  const others = [
    ...['fleet-approved-run-1', 'fleet-approved-run-2'],
    ...[1, 2, 3, 4].map((run) => `fleet-rolled-back-run-${run}`),
    'component-postgres-minor-completed',
    'component-postgres-major-rolled-back',
    'component-temporal-rolled-back',
    ...['unlock-free', 'unlock-refused', 'unlock-cleared'],
  ];

  test('a history of every kind of ending is recorded, of every workflow', () => {
    const names = histories.map((recorded) => recorded.name);
    expect(names).toEqual(
      expect.arrayContaining([
        ...endings,
        'already-at-version',
        'approved-early',
        'approval-timed-out',
        ...killedInRollback,
        ...others,
      ]),
    );
  });

  test('each replays without a nondeterminism error', () => {
    expect(errors.size).toBe(histories.length);
    expect(Object.fromEntries(errors)).toEqual(Object.fromEntries(histories.map(({ name }) => [name, undefined])));
  });

  test('each schedules the activities and child upgrades it recorded, in order, in the same workflow task, with the same inputs', () => {
    // Those of older code (`<commit>/name`) are kept for their commands only: their inputs were that code's.
    const current = histories.filter(({ name }) => !name.includes('/'));
    const differences = current.map(({ name, history }) => [
      name,
      firstDifference(scheduledCommands(history), replayed.get(name) ?? []),
    ]);
    expect(Object.fromEntries(differences)).toEqual(Object.fromEntries(current.map(({ name }) => [name, undefined])));
  });
});

/** Where the current code departs from the history, or undefined; inputs as the history holds them, in JSON. */
function firstDifference(recorded: ScheduledCommand[], current: ScheduledCommand[]): string | undefined {
  const was = recorded.map(described);
  const now = current.map(described);
  for (let index = 0; index < Math.max(was.length, now.length); index++) {
    if (was[index] !== now[index]) {
      return (
        `command ${index + 1}: the history has ${was[index] ?? 'nothing'}, the current code schedules ` +
        `${now[index] ?? 'nothing'}: fix the code, or if the change is meant, see docs/versioning.md (patch or re-record)`
      );
    }
  }
  return undefined;
}

function described({ command, type, workflowId, input, task }: ScheduledCommand): string {
  return `${command} ${type}${workflowId ? ` ${workflowId}` : ''} ${JSON.stringify(input)} in the task of event ${task}`;
}

import {
  renderHistory,
  renderOutcome,
  renderPlan,
  renderProgress,
  renderSchedules,
  renderTable,
  renderUnlock,
} from '../../src/cli/render';
import { plain, withoutEscapes, type Paint } from '../../src/cli/terminal';
import type { HistoryEntry } from '../../src/cli/upgrades';
import { upgradeReport } from '../helpers/reports';

/** Column starts of each line: where each cell begins after the two-space gap. */
const columnStarts = (line: string) => [...line.matchAll(/(?:^|(?<= {2}))\S/g)].map((match) => match.index);

const entry = (fields: Partial<HistoryEntry>): HistoryEntry => ({
  workflowId: 'aegis-upgrade-default',
  runId: 'run-1',
  environment: 'default',
  fromVersion: '1.2.0',
  toVersion: '1.3.0',
  phase: 'completed',
  startedAt: '2026-11-26T03:00:00.000Z',
  durationMs: 42_000,
  startedBy: 'hand',
  ...fields,
});

const RED: Paint = { ...plain, bad: (text) => `\u001b[31m${text}\u001b[39m` };

describe('renderTable', () => {
  it('pads each column to its widest cell, two spaces apart, with no trailing space', () => {
    expect(
      renderTable(
        ['A', 'LONGER', 'C'],
        [
          ['wide cell', 'x', 'last'],
          ['y', '', 'z'],
        ],
      ),
    ).toBe(['A          LONGER  C', 'wide cell  x       last', 'y                  z'].join('\n'));
  });

  it('gives colour codes no width', () => {
    const table = renderTable(
      ['OUTCOME', 'BY'],
      [
        [RED.bad('failed'), 'hand'],
        ['completed', 'hand'],
      ],
    );
    const [, coloured, uncoloured] = withoutEscapes(table).split('\n');

    expect(coloured).toBe('failed     hand');
    expect(uncoloured).toBe('completed  hand');
  });
});

describe('renderHistory', () => {
  it('lines up every column under its header, whatever the lengths of versions, outcomes and names', () => {
    const lines = renderHistory([
      entry({}),
      entry({
        workflowId: 'aegis-upgrade-staging-2026-11-22T03:00:00Z',
        environment: 'staging',
        fromVersion: '1.10.12',
        toVersion: '1.2.0-rc.1',
        phase: 'rolled-back',
        durationMs: 192_000,
        startedBy: 'schedule',
      }),
      entry({ fromVersion: undefined, phase: 'running', durationMs: undefined }),
    ]).split('\n');

    expect(lines[0]).toBe(
      'STARTED                   ENVIRONMENT  FROM     TO          OUTCOME      DURATION    BY        WORKFLOW',
    );
    expect(lines[2]).toBe(
      '2026-11-26T03:00:00.000Z  staging      1.10.12  1.2.0-rc.1  rolled-back  3 min 12 s  schedule  ' +
        'aegis-upgrade-staging-2026-11-22T03:00:00Z',
    );
    expect(lines[3]).toBe(
      '2026-11-26T03:00:00.000Z  default      ?        1.3.0       running                  hand      aegis-upgrade-default',
    );
    expect(columnStarts(lines[1] ?? '')).toEqual(columnStarts(lines[0] ?? ''));
    expect(columnStarts(lines[2] ?? '')).toEqual(columnStarts(lines[0] ?? ''));
  });

  it('says so when there is none', () => {
    expect(renderHistory([])).toBe('No upgrade yet.');
  });

  it('says under the table who approved each gate and who aborted, and why', () => {
    const lines = renderHistory([
      entry({
        phase: 'rolled-back',
        approvals: [{ pod: 'core', by: 'ana@ops-1', reason: 'canary fine', at: '2026-11-26T03:01:00.000Z' }],
        aborted: { by: 'bo@ops-2', reason: 'error rate up' },
      }),
      entry({ approvals: [{ pod: 'temporal', at: '2026-11-26T03:02:00.000Z' }] }),
    ]).split('\n');

    expect(lines.slice(3)).toEqual([
      'aegis-upgrade-default (2026-11-26T03:00:00.000Z): approved before core by ana@ops-1: canary fine',
      'aegis-upgrade-default (2026-11-26T03:00:00.000Z): aborted by bo@ops-2: error rate up',
      'aegis-upgrade-default (2026-11-26T03:00:00.000Z): approved before temporal',
    ]);
  });
});

describe('renderSchedules', () => {
  it('lines up the schedules, paused ones with their note', () => {
    expect(
      renderSchedules([
        { scheduleId: 'aegis-upgrade-weekly', paused: true, note: 'rolled back', nextRun: '2026-11-29T03:00:00.000Z' },
        { scheduleId: 'aegis-upgrade-default', paused: false },
      ]),
    ).toBe(
      [
        'SCHEDULE               STATE                 NEXT RUN',
        'aegis-upgrade-weekly   paused (rolled back)  2026-11-29T03:00:00.000Z',
        'aegis-upgrade-default  active                none',
      ].join('\n'),
    );
    expect(renderSchedules([])).toBe('No schedule.');
  });
});

describe('renderUnlock', () => {
  const path = '/srv/aegis-deploy/.aegis-upgrade.lock';
  const clearance = {
    clearedAt: '2026-11-26T09:00:00.000Z',
    clearedBy: 'alice@ops',
    reason: 'rolled back by hand',
    unlockWorkflowId: 'aegis-unlock-default-2026-11-26T09:00:00Z',
  };

  it('names the upgrade that held the lock, how its run ended, and where the clearance is recorded', () => {
    const previous = {
      workflowId: 'aegis-upgrade-default',
      runId: 'run-1',
      since: '2026-11-26T03:00:00.000Z',
      fromVersion: '1.2.0',
      toVersion: '1.3.0',
    };

    expect(renderUnlock({ path, cleared: { ...clearance, previous, ownerStatus: 'TERMINATED' } })).toBe(
      [
        `Cleared the upgrade lock ${path}: it was held by upgrade \`aegis-upgrade-default\` (run run-1, 1.2.0 → 1.3.0) ` +
          'since 2026-11-26T03:00:00.000Z (its run: terminated)',
        'Recorded in /srv/aegis-deploy/.aegis-upgrade.lock-history: by alice@ops at 2026-11-26T09:00:00.000Z: rolled back by hand',
        'Anything else is as that upgrade left it: check it (`make validate`) before the next upgrade; its pre-flight names what is not running',
      ].join('\n'),
    );
  });

  it('says which database writers it started again, or why it could not', () => {
    const previous = { unreadable: 'it is empty' };
    const writersStarted = ['aegis-core-aegis-runtime', 'aegis-temporal-temporal-worker'];
    expect(renderUnlock({ path, cleared: { ...clearance, previous }, writersStarted })).toContain(
      'Started again the database writers that upgrade had stopped for its final dump: ' +
        'aegis-core-aegis-runtime, aegis-temporal-temporal-worker',
    );
    expect(
      renderUnlock({ path, cleared: { ...clearance, previous }, writersNotStarted: 'podman: no such pod' }),
    ).toContain(
      'Could not start again the database writers that upgrade had stopped: podman: no such pod. Start them by hand',
    );
  });

  it('shows what a lock that named no upgrade held', () => {
    expect(renderUnlock({ path, cleared: { ...clearance, previous: { unreadable: 'it is empty' } } })).toContain(
      'it named no upgrade (it is empty)',
    );
  });

  it('says when there was nothing to clear', () => {
    expect(renderUnlock({ path })).toBe(`No upgrade lock at ${path}: nothing to clear`);
  });
});

describe('notes and approval gates', () => {
  const report = upgradeReport({ phase: 'completed', fromVersion: '1.3.0' });

  it('shows every note of the progress, such as an approval refused or a version already running', () => {
    const notes = ['Already at 1.3.0: nothing pulled, backed up, changed or redeployed', 'Approval refused: x'];
    expect(
      renderProgress({ ...report, notes }, 0)
        .split('\n')
        .slice(1),
    ).toEqual(notes.map((note) => `Note: ${note}`));
  });

  it('says in the plan how long each approval gate waits', () => {
    const plan = { pods: ['core' as const], images: [], checks: [], backupEstimateBytes: 0, restorePossible: true };
    expect(renderPlan({ ...report, plan: { ...plan, approvalTimeout: '24 hours' } })).toContain(
      'Approval gates: each waits up to 24 hours, then the upgrade rolls back',
    );
    expect(renderPlan({ ...report, plan })).not.toContain('Approval gates');
  });

  it('names in the plan the pods the new tag leaves as they are, which are not redeployed', () => {
    const plan = { pods: ['core' as const], images: [], checks: [], backupEstimateBytes: 0, restorePossible: true };
    expect(renderPlan({ ...report, plan: { ...plan, unchangedPods: ['database', 'observability'] } })).toContain(
      'redeploy core (database, observability unchanged: not redeployed), check migrations',
    );
    expect(renderPlan({ ...report, plan })).toContain('redeploy core, check migrations');
  });
});

describe("the host's binary and FUSE daemon", () => {
  it('are in the plan when the runtime is redeployed, and the outcome says what the host runs', () => {
    const plan = { pods: ['core' as const], images: [], checks: [], backupEstimateBytes: 0, restorePossible: true };
    const report = upgradeReport({ phase: 'completed', plan });
    expect(renderPlan(report)).toContain(
      'check migrations, put the new bin/aegis on the host and restart aegis-fuse-daemon, validate',
    );
    expect(renderPlan({ ...report, plan: { ...plan, pods: ['temporal'] } })).toContain('check migrations, validate');
    const hostCli = { binary: 'bin/aegis says aegis 1.3.0', daemon: 'aegis-fuse-daemon active (running), pid 42' };
    expect(renderOutcome(upgradeReport({ phase: 'completed', hostCli }))).toContain(
      'Host: bin/aegis says aegis 1.3.0; aegis-fuse-daemon active (running), pid 42',
    );
  });
});

describe('a refused plan', () => {
  it("prints the failed check's detail, not an empty line", () => {
    const refused = upgradeReport({
      phase: 'refused',
      steps: [
        {
          id: 'preflight',
          title: 'Pre-flight checks',
          status: 'failed',
          detail: 'image aegis-runtime:1.3.0 is not in the registry',
        },
      ],
    });
    expect(renderPlan(refused)).toBe('Refused at Pre-flight checks: image aegis-runtime:1.3.0 is not in the registry');
  });

  it('says how it ended when no step says why', () => {
    expect(renderPlan(upgradeReport({ phase: 'refused' }))).toBe('No plan: the upgrade ended refused');
  });
});

describe('an upgrade from a moving tag', () => {
  const digest = 'sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';

  it('names, in the plan and the progress, the images `latest` meant when it began, not `latest` alone', () => {
    const plan = { pods: ['core' as const], images: [], checks: [], backupEstimateBytes: 0, restorePossible: true };
    const report = upgradeReport({ phase: 'planned', fromVersion: 'latest', fromDigest: digest, plan });
    expect(renderPlan(report)).toContain('Plan: latest (sha256:0123456789ab) → 1.3.0 (nothing was changed)');
    expect(renderProgress({ ...report, phase: 'upgrading' }, 0)).toContain(
      'Upgrade latest (sha256:0123456789ab) → 1.3.0',
    );
  });

  it('leaves a release alone: its tag says which images it is', () => {
    const report = upgradeReport({ phase: 'upgrading', fromVersion: '1.2.0', fromDigest: digest });
    expect(renderProgress(report, 0).split('\n')[0]).toBe('Upgrade 1.2.0 → 1.3.0: upgrading');
  });
});

import {
  RollbackRefused,
  backupName,
  backupTakenAt,
  chooseRollback,
  type CompletedUpgrade,
} from '../../src/core/rollback-target';
import type { UpgradeReport } from '../../src/core/upgrade';

/** A completed upgrade from → to, its backup named after them unless `backup` is false. */
function completed(from: string, to: string, { backup = true, final = true } = {}): CompletedUpgrade {
  const name = `20261207T10000${to.length}Z-${from}-to-${to}`;
  const report = {
    phase: 'completed',
    outcome: 'completed',
    environment: 'staging',
    fromVersion: from,
    toVersion: to,
    steps: [{ id: 'backup', title: 'Back up the databases', status: 'succeeded', startedAt: `${to}-backup-started` }],
    rollback: [],
    images: [],
    migrationsApplied: [],
    databaseRestored: false,
    ...(backup && {
      backup: {
        location: `/srv/aegis/backups/${name}`,
        files: [],
        ...(final && { final: { takenAt: `${to}-final-dump`, files: [] } }),
      },
    }),
  } as unknown as UpgradeReport;
  return { workflowId: 'aegis-upgrade-staging', runId: `run-${to}`, endedAt: `${to}-ended`, report };
}

describe('the upgrade `rollback` puts back', () => {
  const history = [completed('1.3.0', '1.3.3'), completed('1.3.3', '1.3.3'), completed('1.2.0', '1.3.0')];

  it('by default the last completed one: to the version it left, its backup, the writes since its final dump', () => {
    expect(chooseRollback('staging', history)).toMatchObject({
      runningVersion: '1.3.3',
      targetVersion: '1.3.0',
      restoreFrom: '20261207T100005Z-1.3.0-to-1.3.3',
      discardsFrom: '1.3.3-final-dump',
      upgrade: { runId: 'run-1.3.3' },
    });
  });

  it('with --to, the last that left that version, across the upgrades since', () => {
    expect(chooseRollback('staging', history, '1.2.0')).toMatchObject({
      runningVersion: '1.3.3',
      targetVersion: '1.2.0',
      restoreFrom: '20261207T100005Z-1.2.0-to-1.3.0',
    });
  });

  it('a backup without a final dump discards from when the backup began', () => {
    const [upgrade] = [completed('1.2.0', '1.3.0', { final: false })];
    expect(backupTakenAt(upgrade?.report as UpgradeReport)).toBe('1.3.0-backup-started');
    expect(backupName(upgrade?.report as UpgradeReport)).toBe('20261207T100005Z-1.2.0-to-1.3.0');
  });

  it('refuses, naming the versions it can go back to, with their upgrade and backup', () => {
    expect(() => chooseRollback('staging', [])).toThrow(
      new RollbackRefused('No completed upgrade of environment staging is recorded: there is nothing to put back'),
    );
    expect(() => chooseRollback('staging', history, '1.1.0')).toThrow(
      'No completed upgrade of environment staging left 1.1.0; the versions it can go back to: ' +
        '1.3.0 (left by 1.3.0 → 1.3.3, aegis-upgrade-staging run run-1.3.3 completed 1.3.3-ended; backup ' +
        '20261207T100005Z-1.3.0-to-1.3.3); 1.2.0 (left by 1.2.0 → 1.3.0, aegis-upgrade-staging run run-1.3.0 ' +
        'completed 1.3.0-ended; backup 20261207T100005Z-1.2.0-to-1.3.0)',
    );
    expect(() => chooseRollback('staging', [completed('1.2.0', '1.3.0', { backup: false })])).toThrow(
      /^aegis-upgrade-staging took no backup to restore; the versions it can go back to: 1\.2\.0 .*no backup\)$/,
    );
    expect(() => chooseRollback('staging', [completed('latest', '1.3.0')])).toThrow(
      /left latest, a moving tag, which names no version to go back to; start a downgrade .* --restore-from 20261207T100005Z-latest-to-1\.3\.0/,
    );
  });
});

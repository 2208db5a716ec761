import { upgradeNotification, type UpgradeEventFacts } from '../../src/core/notifications';
import type { UpgradeReport } from '../../src/core/upgrade';
import { upgradeReport } from '../helpers/reports';

const WORKFLOW_ID = 'aegis-upgrade-staging';
const AT = '2026-11-27T03:00:05.000Z';
const BACKUP = '/srv/aegis-deploy/backups/20261127T030000Z-1.2.0-to-1.3.0';

const facts = (event: UpgradeEventFacts['event'], overrides: Partial<UpgradeReport> = {}): UpgradeEventFacts => ({
  event,
  workflowId: WORKFLOW_ID,
  at: AT,
  report: upgradeReport(overrides),
});

describe('upgradeNotification', () => {
  it('started: the environment, versions and the command to see more', () => {
    expect(upgradeNotification(facts('started'))).toEqual({
      event: 'started',
      environment: 'staging',
      workflowId: WORKFLOW_ID,
      fromVersion: '1.2.0',
      toVersion: '1.3.0',
      at: AT,
      command: 'aegis-upgrade status --env staging',
      text: 'AEGIS upgrade of staging started: 1.2.0 → 1.3.0.\nMore: aegis-upgrade status --env staging',
    });
  });

  it('started from `latest`: the message names the images it meant, by digest', () => {
    const notification = upgradeNotification(
      facts('started', { fromVersion: 'latest', fromDigest: `sha256:${'cd'.repeat(32)}` }),
    );
    expect(notification.fromVersion).toBe('latest (sha256:cdcdcdcdcdcd)');
    expect(notification.text).toContain('started: latest (sha256:cdcdcdcdcdcd) → 1.3.0.');
  });

  it('waiting-for-approval: the gate, how long it waits, the command that approves it', () => {
    const notification = upgradeNotification({
      ...facts('waiting-for-approval', { backup: { location: BACKUP, files: [] } }),
      approval: { pod: 'core', timeout: '30 minutes' },
    });

    expect(notification.approval).toEqual({
      pod: 'core',
      timeout: '30 minutes',
      command: 'aegis-upgrade approve --env staging --pod core',
    });
    expect(notification.backup).toBe(BACKUP);
    expect(notification.text).toBe(
      [
        'AEGIS upgrade of staging (1.2.0 → 1.3.0) waits for approval before core; past 30 minutes it rolls back.',
        'Approve: aegis-upgrade approve --env staging --pod core',
        `Backup: ${BACKUP}`,
        'More: aegis-upgrade status --env staging',
      ].join('\n'),
    );
  });

  it('says who released each gate and why, in the JSON and the text', () => {
    const approvals = [
      { pod: 'core' as const, by: 'ana@ops-1', reason: 'canary fine', at: AT },
      { pod: 'temporal' as const, at: AT },
    ];
    const notification = upgradeNotification(facts('completed', { approvals }));

    expect(notification.approvals).toEqual(approvals);
    expect(notification.text.split('\n')).toEqual([
      'AEGIS upgrade of staging completed: 1.2.0 → 1.3.0.',
      `Approved before core by ana@ops-1: canary fine (${AT}).`,
      `Approved before temporal (${AT}).`,
      'More: aegis-upgrade status --env staging',
    ]);
    expect(upgradeNotification(facts('completed'))).not.toHaveProperty('approvals');
  });

  it('completed: the backup; no cause, nothing rolled back', () => {
    const notification = upgradeNotification(facts('completed', { backup: { location: BACKUP, files: [] } }));

    expect(notification).not.toHaveProperty('cause');
    expect(notification).not.toHaveProperty('rolledBack');
    expect(notification.text).toBe(
      `AEGIS upgrade of staging completed: 1.2.0 → 1.3.0.\nBackup: ${BACKUP}\nMore: aegis-upgrade status --env staging`,
    );
  });

  it('rolled-back: the cause, what was rolled back, the restore and the writes it discarded', () => {
    const notification = upgradeNotification(
      facts('rolled-back', {
        cause: { step: 'migrations', message: 'migration 7 failed' },
        backup: { location: BACKUP, files: [] },
        rollback: [
          { id: 'rollback:tag', title: 'Set AEGIS_IMAGE_TAG back to 1.2.0', status: 'succeeded' },
          { id: 'rollback:redeploy:core', title: 'Redeploy core on the previous images', status: 'succeeded' },
        ],
        databaseRestored: true,
        databaseRestore: {
          databases: ['aegis'],
          dumps: [`${BACKUP}/final/aegis.dump`],
          dumpTakenAt: '2026-11-27T03:01:00.000Z',
          writersStopped: true,
          restoredAt: '2026-11-27T03:04:00.000Z',
          discardedWrites: { from: '2026-11-27T03:01:00.000Z', to: '2026-11-27T03:04:00.000Z' },
          preRestoreDumps: [`${BACKUP}/pre-restore/aegis.dump`],
        },
      }),
    );

    expect(notification).toMatchObject({
      cause: { step: 'migrations', message: 'migration 7 failed' },
      rolledBack: ['Set AEGIS_IMAGE_TAG back to 1.2.0', 'Redeploy core on the previous images'],
      databaseRestore: {
        dumps: [`${BACKUP}/final/aegis.dump`],
        discardedWrites: { from: '2026-11-27T03:01:00.000Z', to: '2026-11-27T03:04:00.000Z' },
      },
      backup: BACKUP,
    });
    expect(notification).not.toHaveProperty('manualSteps');
    expect(notification.text).toBe(
      [
        'AEGIS upgrade of staging rolled back: 1.2.0 → 1.3.0. migrations failed: migration 7 failed.',
        'Rolled back: Set AEGIS_IMAGE_TAG back to 1.2.0; Redeploy core on the previous images.',
        `Databases restored from ${BACKUP}/final/aegis.dump; writes from 2026-11-27T03:01:00.000Z to 2026-11-27T03:04:00.000Z discarded.`,
        `Backup: ${BACKUP}`,
        'More: aegis-upgrade status --env staging',
      ].join('\n'),
    );
  });

  it('rollback-failed: what was and was not put back, and the commands that finish it by hand', () => {
    const notification = upgradeNotification(
      facts('rollback-failed', {
        cause: { step: 'validate', message: 'make validate failed; rollback: redeploy core failed' },
        rollback: [
          { id: 'rollback:tag', title: 'Set AEGIS_IMAGE_TAG back to 1.2.0', status: 'succeeded' },
          { id: 'rollback:redeploy:core', title: 'Redeploy core on the previous images', status: 'failed' },
        ],
        manualSteps: ['cd /srv/aegis-deploy', 'make redeploy POD=core'],
      }),
    );

    expect(notification).toMatchObject({
      rolledBack: ['Set AEGIS_IMAGE_TAG back to 1.2.0'],
      notRolledBack: ['Redeploy core on the previous images'],
      manualSteps: ['cd /srv/aegis-deploy', 'make redeploy POD=core'],
    });
    expect(notification.text.split('\n')).toEqual([
      'AEGIS upgrade of staging FAILED and so did its rollback: 1.2.0 → 1.3.0. validate failed: make validate failed; rollback: redeploy core failed.',
      'Rolled back: Set AEGIS_IMAGE_TAG back to 1.2.0. Not rolled back: Redeploy core on the previous images.',
      'Finish it by hand: cd /srv/aegis-deploy && make redeploy POD=core',
      'More: aegis-upgrade status --env staging',
    ]);
  });

  it("refused: pre-flight's failed step is the cause; the running version may be unknown", () => {
    const notification = upgradeNotification(
      facts('refused', {
        fromVersion: undefined,
        steps: [{ id: 'preflight', title: 'Pre-flight checks', status: 'failed', detail: 'Images missing' }],
      }),
    );

    expect(notification).not.toHaveProperty('fromVersion');
    expect(notification.cause).toEqual({ step: 'preflight', message: 'Images missing' });
    expect(notification.text).toBe(
      'AEGIS upgrade of staging to 1.3.0 refused by pre-flight, nothing changed. preflight failed: Images missing.\n' +
        'More: aegis-upgrade status --env staging',
    );
  });

  it('names the environment of a scheduled upgrade without its start time', () => {
    const notification = upgradeNotification({
      ...facts('started'),
      workflowId: 'aegis-upgrade-prod-2026-11-27T03:00:00Z',
    });

    expect(notification.environment).toBe('prod');
    expect(notification.command).toBe('aegis-upgrade status --env prod');
  });
});

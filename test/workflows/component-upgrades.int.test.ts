import { randomUUID } from 'node:crypto';
import { COMPONENT_WORKFLOW_TYPE, type ComponentUpgradeRequest } from '../../src/core/components';
import { UpgradeFailureType, progressQuery, type UpgradeReport } from '../../src/core/upgrade';
import { upgradeFailure } from '../helpers/platform';
import { startStandInServer, type StandInScenario, type StandInServer } from '../helpers/stand-in-activities';

/**
 * The component upgrades' workflow on a real dev server, with stand-in activities: which steps each strategy runs, in
 * which order, and what its rollback undoes, in which order. The real activities are tested on their own, and on the
 * sandbox by the lead.
 */
describe('upgradeComponent, on stand-in activities', () => {
  let bench: StandInServer;

  beforeAll(async () => {
    bench = await startStandInServer();
  }, 60_000);
  afterAll(async () => {
    await bench?.close();
  });

  const start = async (request: ComponentUpgradeRequest, scenario: StandInScenario = {}) => {
    const workflowId = `aegis-upgrade-component-${randomUUID().slice(0, 8)}`;
    bench.standIn.scenario(workflowId, scenario);
    const handle = await bench.client.workflow.start(COMPONENT_WORKFLOW_TYPE, {
      taskQueue: bench.taskQueue,
      workflowId,
      args: [request],
    });
    return {
      handle,
      calls: () => bench.standIn.calls(workflowId),
      inputs: bench.standIn.inputs.bind(null, workflowId),
    };
  };
  const failing = (activity: string, message = `${activity} failed`): StandInScenario => ({
    fail: [{ activity, type: 'ValidationFailed', message }],
  });

  const MINOR = [
    'checkComponentPreflight',
    'setComponentImageTag:database',
    'redeployPod:database',
    'awaitPodReady:database',
    'verifyPostgresVersion',
  ];
  const MAJOR = [
    'checkComponentPreflight',
    'stopDatabaseClients',
    'dumpCluster',
    'prepareDataDirectory',
    'setComponentImageTag:database',
    'setDatabaseDataDirectory',
    'redeployPod:database',
    'awaitPodReady:database',
    'verifyPostgresVersion',
    'restoreCluster',
    'verifyClusterCopy',
    'startDatabaseClients',
  ];
  /** A major's rollback once the new cluster started: the old image and directory back, the old major checked, clients back. */
  const MAJOR_ROLLBACK = [
    'setComponentImageTag:database',
    'setDatabaseDataDirectory',
    'redeployPod:database',
    'awaitPodReady:database',
    'verifyPostgresVersion',
    'startDatabaseClients',
    'validatePlatform',
  ];
  const TEMPORAL = [
    'checkComponentPreflight',
    'stopTemporalServer',
    'backUpTemporalDatabases',
    'setComponentImageTag:temporal',
    'redeployPod:temporal',
    'awaitPodReady:temporal',
    'verifyTemporalServer',
  ];

  test('PostgreSQL minor: the tag, a redeploy, the version checked, the platform validated', async () => {
    const { handle, calls, inputs } = await start({ component: 'postgres', targetVersion: '15.10' });
    const report: UpgradeReport = await handle.result();
    expect(calls()).toEqual([...MINOR, 'validatePlatform', 'releaseUpgradeLock']);
    expect(inputs('setComponentImageTag')).toEqual([{ pod: 'database', tag: '15.10-alpine' }]);
    expect(inputs('verifyPostgresVersion')).toEqual([{ version: '15.10' }]);
    expect(report).toMatchObject({ phase: 'completed', fromVersion: 'postgres 15.8', toVersion: 'postgres 15.10' });
    expect(await handle.query(progressQuery)).toMatchObject({ phase: 'completed' });
  });

  test('PostgreSQL minor rollback: the previous tag, a redeploy, the previous version checked', async () => {
    const { handle, calls, inputs } = await start(
      { component: 'postgres', targetVersion: '15.10' },
      failing('verifyPostgresVersion', 'PostgreSQL runs `PostgreSQL 15.8`, not 15.10'),
    );
    const { type, report } = await upgradeFailure(handle.result());
    expect(type).toBe(UpgradeFailureType.UpgradeRolledBack);
    expect(calls()).toEqual([
      ...MINOR,
      'setComponentImageTag:database',
      'redeployPod:database',
      'awaitPodReady:database',
      'verifyPostgresVersion',
      'validatePlatform',
      'releaseUpgradeLock',
    ]);
    expect(inputs('setComponentImageTag')).toEqual([
      { pod: 'database', tag: '15.10-alpine' },
      { pod: 'database', tag: '15-alpine' },
    ]);
    expect(inputs('verifyPostgresVersion')).toEqual([{ version: '15.10' }, { version: '15.8' }]);
    expect(report.cause).toEqual({
      step: 'redeploy:database',
      message: 'PostgreSQL runs `PostgreSQL 15.8`, not 15.10',
    });
    expect(report.phase).toBe('rolled-back');
  });

  test('PostgreSQL major: clients stopped, dump, a fresh directory, restore, comparison, clients back', async () => {
    const { handle, calls, inputs } = await start({ component: 'postgres', targetVersion: '16' });
    const report: UpgradeReport = await handle.result();
    expect(calls()).toEqual([...MAJOR, 'validatePlatform', 'releaseUpgradeLock']);
    expect(inputs('prepareDataDirectory')).toEqual([
      { directory: '/srv/aegis-state/pgdata-16', keep: '/srv/aegis-state/pgdata' },
    ]);
    expect(inputs('setDatabaseDataDirectory')).toEqual([{ directory: '/srv/aegis-state/pgdata-16' }]);
    expect(inputs('setComponentImageTag')).toEqual([{ pod: 'database', tag: '16-alpine' }]);
    expect(report.steps.map((step) => step.id)).toEqual([
      'preflight',
      'stop-clients',
      'dump',
      'prepare-directory',
      'set-definition',
      'redeploy:database',
      'restore',
      'verify-copy',
      'start-clients',
      'validate',
    ]);
    expect(report.backup?.location).toMatch(/-postgres-15\.8-to-16$/);
  });

  test('PostgreSQL major failing after the new cluster started: old image and directory back, then the clients', async () => {
    const { handle, calls, inputs } = await start(
      { component: 'postgres', targetVersion: '16' },
      failing('restoreCluster'),
    );
    const { type, report } = await upgradeFailure(handle.result());
    expect(type).toBe(UpgradeFailureType.UpgradeRolledBack);
    expect(calls()).toEqual([
      ...MAJOR.slice(0, MAJOR.indexOf('restoreCluster') + 1),
      ...MAJOR_ROLLBACK,
      'releaseUpgradeLock',
    ]);
    expect(inputs('setDatabaseDataDirectory')).toEqual([
      { directory: '/srv/aegis-state/pgdata-16' },
      { directory: '/srv/aegis-state/pgdata' },
    ]);
    expect(inputs('verifyPostgresVersion')).toEqual([{ version: '16' }, { version: '15.8' }]);
    expect(report.rollback.map((step) => `${step.id} ${step.status}`)).toEqual([
      'rollback:definition succeeded',
      'rollback:redeploy:database succeeded',
      'rollback:clients succeeded',
      'rollback:validate succeeded',
    ]);
  });

  test('PostgreSQL major whose copy differs from the old cluster: rolled back the same way', async () => {
    const { handle, calls } = await start(
      { component: 'postgres', targetVersion: '16' },
      failing(
        'verifyClusterCopy',
        'The new cluster differs from the old one: table aegis/public.agents has 1 rows, had 2',
      ),
    );
    const { type, report } = await upgradeFailure(handle.result());
    expect(type).toBe(UpgradeFailureType.UpgradeRolledBack);
    expect(calls()).toEqual([
      ...MAJOR.slice(0, MAJOR.indexOf('verifyClusterCopy') + 1),
      ...MAJOR_ROLLBACK,
      'releaseUpgradeLock',
    ]);
    expect(report.cause?.message).toBe(
      'The new cluster differs from the old one: table aegis/public.agents has 1 rows, had 2',
    );
  });

  test('PostgreSQL major failing once the clients write to the new cluster: they are stopped before the switch back', async () => {
    const { handle, calls } = await start({ component: 'postgres', targetVersion: '16' }, failing('validatePlatform'));
    await upgradeFailure(handle.result());
    expect(calls()).toEqual([
      ...MAJOR,
      'validatePlatform',
      'stopDatabaseClients',
      ...MAJOR_ROLLBACK,
      'releaseUpgradeLock',
    ]);
  });

  test('a completed upgrade tells the webhooks it started and completed, naming the component', async () => {
    const { handle, inputs } = await start({ component: 'postgres', targetVersion: '15.10' });
    await handle.result();
    expect(inputs('notify')).toMatchObject([
      { event: 'started', fromVersion: 'postgres 15.8', toVersion: 'postgres 15.10' },
      { event: 'completed' },
    ]);
  });

  test('Temporal 1.22 → 1.23: stopped, backed up, the new tag, redeployed and its version checked', async () => {
    const { handle, calls, inputs } = await start({ component: 'temporal', targetVersion: '1.23' });
    const report: UpgradeReport = await handle.result();
    expect(calls()).toEqual([...TEMPORAL, 'validatePlatform', 'releaseUpgradeLock']);
    expect(inputs('setComponentImageTag')).toEqual([{ pod: 'temporal', tag: '1.23.0' }]);
    expect(inputs('verifyTemporalServer')).toEqual([{ tag: '1.23.0' }]);
    expect(report).toMatchObject({ phase: 'completed', fromVersion: 'temporal 1.22.3', toVersion: 'temporal 1.23' });
  });

  test('Temporal 1.22 → 1.24 is refused before any activity runs; with the override, by pre-flight alone, naming the steps', async () => {
    const refused = await start({ component: 'temporal', targetVersion: '1.24' });
    const outside = await upgradeFailure(refused.handle.result());
    expect(outside.type).toBe(UpgradeFailureType.PreflightFailed);
    expect(outside.message).toMatch(/Temporal 1\.24 is outside the range AEGIS runtime 0\.x supports \(1\.22–1\.23\)/);
    expect(refused.calls()).toEqual([]);

    const overridden = await start({ component: 'temporal', targetVersion: '1.24', allowUnsupported: true });
    const skipped = await upgradeFailure(overridden.handle.result());
    expect(skipped.type).toBe(UpgradeFailureType.PreflightFailed);
    expect(skipped.message).toMatch(/upgrade 1\.22 → 1\.23 → 1\.24, one request per step/);
    // Pre-flight refuses before it takes the lock; the release after any refusal finds none of this run's.
    expect(overridden.calls()).toEqual(['checkComponentPreflight', 'releaseUpgradeLock']);
    // A request that parses, refused by pre-flight, is told to the webhooks; one that does not parse is not.
    const events = (inputs: unknown[]) => inputs.map((notification) => (notification as { event: string }).event);
    expect(events(overridden.inputs('notify'))).toEqual(['refused']);
    expect(events(refused.inputs('notify'))).toEqual([]);
  });

  test('Temporal 1.23 → 1.24 with the override completes, and its report says the override was used', async () => {
    const { handle } = await start(
      { component: 'temporal', targetVersion: '1.24', allowUnsupported: true },
      { componentVersion: '1.23.0' },
    );
    const report: UpgradeReport = await handle.result();
    expect(report.notes).toEqual([
      "Temporal 1.24 is outside the supported range 1.22–1.23: allowed by the request's allowUnsupported",
    ]);
  });

  test('Temporal failing after the schema migrated: both databases restored with it stopped, then the previous tag', async () => {
    const { handle, calls, inputs } = await start(
      { component: 'temporal', targetVersion: '1.23' },
      failing('verifyTemporalServer', 'aegis-temporal-temporal is exited on …/auto-setup:1.23.0'),
    );
    const { type, report } = await upgradeFailure(handle.result());
    expect(type).toBe(UpgradeFailureType.UpgradeRolledBack);
    expect(calls()).toEqual([
      ...TEMPORAL,
      'stopTemporalServer',
      'restoreTemporalDatabases',
      'setComponentImageTag:temporal',
      'redeployPod:temporal',
      'awaitPodReady:temporal',
      'verifyTemporalServer',
      'validatePlatform',
      'releaseUpgradeLock',
    ]);
    expect(inputs('setComponentImageTag')).toEqual([
      { pod: 'temporal', tag: '1.23.0' },
      { pod: 'temporal', tag: '1.22.3' },
    ]);
    expect(inputs('verifyTemporalServer')).toEqual([{ tag: '1.23.0' }, { tag: '1.22.3' }]);
    expect(inputs('restoreTemporalDatabases')).toEqual([{ backup: report.backup }]);
  });

  test('a dry run reports the plan and changes nothing', async () => {
    const { handle, calls, inputs } = await start({ component: 'postgres', targetVersion: '16', dryRun: true });
    const report: UpgradeReport = await handle.result();
    expect(calls()).toEqual(['checkComponentPreflight']);
    expect(inputs('checkComponentPreflight')).toMatchObject([{ readOnly: true }]);
    expect(report.phase).toBe('planned');
    expect(report.plan).toMatchObject({
      pods: ['database'],
      images: [{ container: 'aegis-database-postgres', current: '15-alpine', target: '16-alpine' }],
      restorePossible: true,
    });
  });
});

import { manualComponentRollbackSteps, type ComponentChanges } from '../../src/workflows/component-rollback';

const TEMPORAL_BACKUP = { location: '/srv/aegis-deploy/backups/20261126T030000Z-temporal-1.22-to-1.23', files: [] };

/** A Temporal upgrade whose new server migrated the schema, then failed, and whose rollback did nothing yet. */
function migratedTemporal(overrides: Partial<ComponentChanges> = {}): ComponentChanges {
  return {
    strategy: 'temporal-minor',
    pod: 'temporal',
    previousTag: '1.22.3',
    fromVersion: '1.22.3',
    aegisTag: '1.2.0',
    definitionChanged: true,
    redeployed: true,
    clientsStopped: false,
    clientsStarted: false,
    temporalStopped: true,
    temporalBackup: TEMPORAL_BACKUP,
    ...overrides,
  };
}

describe('manualComponentRollbackSteps', () => {
  it('restores the Temporal databases as the POSTGRES_USER their backup was taken as, not `aegis`', () => {
    const commands = manualComponentRollbackSteps(
      migratedTemporal({ temporalBackup: { ...TEMPORAL_BACKUP, role: 'platform_admin' } }),
      [],
    );

    expect(commands).toEqual([
      'podman pod stop --ignore aegis-temporal',
      'podman exec aegis-database-postgres psql -U platform_admin -d postgres -c "drop database if exists temporal with (force)" -c "create database temporal owner platform_admin" && ' +
        `podman exec -i aegis-database-postgres pg_restore -U platform_admin -d temporal --single-transaction < ${TEMPORAL_BACKUP.location}/temporal.dump`,
      'podman exec aegis-database-postgres psql -U platform_admin -d postgres -c "drop database if exists temporal_visibility with (force)" -c "create database temporal_visibility owner platform_admin" && ' +
        `podman exec -i aegis-database-postgres pg_restore -U platform_admin -d temporal_visibility --single-transaction < ${TEMPORAL_BACKUP.location}/temporal_visibility.dump`,
      'edit podman/pods/temporal/pod-temporal.yaml: set the temporal image back to 1.22.3',
      'make redeploy POD=temporal',
      'make validate',
    ]);
  });

  it('restores as aegis from a backup recorded without its role (a run started before it was kept)', () => {
    const commands = manualComponentRollbackSteps(migratedTemporal(), ['rollback:stop-temporal']).join('\n');

    expect(commands.match(/-U \S+/g)).toEqual(Array(4).fill('-U aegis'));
  });
});

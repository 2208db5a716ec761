import type { ComponentPreflight } from '../activities/component-preflight';
import { dumpFileName } from '../core/backup-layout';
import type { ComponentStrategy } from '../core/components';
import { describeClusterStorage, type ClusterStorage } from '../core/cluster-storage';
import { DATABASE_CLIENT_PODS, DATABASE_CONTAINER, TEMPORAL_DATABASES, podFullName } from '../core/platform';
import type { BackupRecord } from '../core/upgrade';
import { backupRole } from './rollback';

/** What a component upgrade has touched so far: each entry is recorded before the step that changes it runs. */
export interface ComponentChanges {
  strategy: ComponentStrategy;
  pod: 'database' | 'temporal';
  /** The component's image tag before, and the version it ran (verified again after a rollback). */
  previousTag: string;
  fromVersion: string;
  /** AEGIS_IMAGE_TAG, which pod temporal's AEGIS worker runs. */
  aegisTag: string;
  /** A major PostgreSQL upgrade's old cluster storage, directory or named volume (never written since the clients stopped). */
  dataStorage?: ClusterStorage;
  /** The pod's YAML names the new image (and, for a major, the new storage). */
  definitionChanged: boolean;
  /** The pod was redeployed on the new definition (or is being). */
  redeployed: boolean;
  /** The database's client pods were stopped (a major), and started again on the new cluster. */
  clientsStopped: boolean;
  clientsStarted: boolean;
  /** Pod temporal was stopped for its databases' backup. */
  temporalStopped: boolean;
  /** The Temporal databases as they were before the new server migrated them. */
  temporalBackup?: BackupRecord;
}

export type ComponentRollbackStep =
  | { kind: 'stop-clients'; id: string; title: string }
  | { kind: 'stop-temporal'; id: string; title: string }
  | { kind: 'restore-temporal-databases'; id: string; title: string }
  | { kind: 'restore-definition'; id: string; title: string }
  | { kind: 'redeploy'; id: string; title: string }
  | { kind: 'start-clients'; id: string; title: string }
  | { kind: 'validate'; id: string; title: string };

/**
 * A major's storage now and the fresh one, from pre-flight: as it reports them, or as it did before named volumes (host
 * directories only), for an upgrade started then and replayed. Activity inputs keep `{ directory }` for those.
 */
export function majorUpgradeStorage(preflight: ComponentPreflight): { current: ClusterStorage; fresh: ClusterStorage } {
  const { dataStorage, newDataStorage, dataDirectory = '', newDataDirectory = '' } = preflight;
  return dataStorage && newDataStorage
    ? { current: dataStorage, fresh: newDataStorage }
    : { current: { directory: dataDirectory }, fresh: { directory: newDataDirectory } };
}

/** The changes as a rollback reads them, before the upgrade has made any. */
export function noComponentChanges(preflight: ComponentPreflight): ComponentChanges {
  const { plan, currentTag, aegisTag } = preflight;
  const dataStorage = plan.strategy === 'postgres-major' ? majorUpgradeStorage(preflight).current : undefined;
  return {
    strategy: plan.strategy,
    pod: plan.component === 'postgres' ? 'database' : 'temporal',
    previousTag: currentTag,
    fromVersion: plan.fromVersion,
    aegisTag,
    ...(dataStorage && { dataStorage }),
    definitionChanged: false,
    redeployed: false,
    clientsStopped: false,
    clientsStarted: false,
    temporalStopped: false,
  };
}

/**
 * The compensation, from what was changed: clients that write to the new cluster stopped first; a migrated Temporal
 * schema restored from its backup with its server stopped; then the pod's previous definition (image, and the old data
 * directory) redeployed and its version checked; then the stopped clients started; then validation. Nothing touched,
 * nothing to undo.
 */
export function planComponentRollback(changes: ComponentChanges): ComponentRollbackStep[] {
  const { pod } = changes;
  const touched = changes.definitionChanged || changes.redeployed || changes.clientsStopped || changes.temporalStopped;
  if (!touched) return [];
  const steps: ComponentRollbackStep[] = [];
  if (changes.clientsStarted) {
    steps.push({
      kind: 'stop-clients',
      id: 'rollback:stop-clients',
      title:
        'Stop the database clients again (what they wrote to the new cluster since they started is not carried back)',
    });
  }
  const restoreTemporal = changes.strategy === 'temporal-minor' && changes.redeployed && changes.temporalBackup;
  if (restoreTemporal) {
    steps.push(
      { kind: 'stop-temporal', id: 'rollback:stop-temporal', title: 'Stop the Temporal server' },
      {
        kind: 'restore-temporal-databases',
        id: 'rollback:temporal-databases',
        title: `Restore ${TEMPORAL_DATABASES.join(' and ')} from the backup taken before the migration`,
      },
    );
  }
  if (changes.definitionChanged) {
    const storage = changes.dataStorage;
    const data =
      changes.strategy === 'postgres-major' && storage ? ` and the data ${describeClusterStorage(storage)}` : '';
    steps.push({
      kind: 'restore-definition',
      id: 'rollback:definition',
      title: `Set the ${pod} image back to ${changes.previousTag}${data} in pod-${pod}.yaml`,
    });
  }
  if (changes.definitionChanged || changes.redeployed || changes.temporalStopped) {
    steps.push({
      kind: 'redeploy',
      id: `rollback:redeploy:${pod}`,
      title: `Redeploy ${pod} on ${changes.previousTag} and check it runs ${changes.fromVersion}`,
    });
  }
  if (changes.clientsStopped) {
    steps.push({ kind: 'start-clients', id: 'rollback:clients', title: 'Start the stopped database clients again' });
  }
  steps.push({ kind: 'validate', id: 'rollback:validate', title: 'Validate the platform again' });
  return steps;
}

/** The commands that finish a failed rollback by hand, from the deploy checkout. */
export function manualComponentRollbackSteps(changes: ComponentChanges, done: readonly string[]): string[] {
  const yaml = `podman/pods/${changes.pod}/pod-${changes.pod}.yaml`;
  const clients = DATABASE_CLIENT_PODS.map(podFullName).join(' ');
  return planComponentRollback(changes)
    .filter((step) => !done.includes(step.id))
    .flatMap((step): string[] => {
      switch (step.kind) {
        case 'stop-clients':
          return [`podman pod stop --ignore ${clients}`];
        case 'stop-temporal':
          return [`podman pod stop --ignore ${podFullName('temporal')}`];
        case 'restore-temporal-databases':
          return changes.temporalBackup ? manualTemporalRestore(changes.temporalBackup) : [];
        case 'restore-definition':
          return [`edit ${yaml}: ${step.title.replace(/^Set /, 'set ').replace(/ in pod-.*$/, '')}`];
        case 'redeploy':
          return [`make redeploy POD=${changes.pod}`];
        case 'start-clients':
          return [`podman pod start ${clients}`];
        case 'validate':
          return ['make validate'];
      }
    });
}

/** Each Temporal database dropped, created and restored from its dump, as `restoreTemporalDatabases` does it. */
function manualTemporalRestore(backup: BackupRecord): string[] {
  const role = backupRole(backup);
  return TEMPORAL_DATABASES.map(
    (database) =>
      `podman exec ${DATABASE_CONTAINER} psql -U ${role} -d postgres -c "drop database if exists ${database} with (force)" -c "create database ${database} owner ${role}" && ` +
      `podman exec -i ${DATABASE_CONTAINER} pg_restore -U ${role} -d ${database} --single-transaction < ${backup.location}/${dumpFileName(database)}`,
  );
}

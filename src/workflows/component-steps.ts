/**
 * The procedures of the component upgrades, one per strategy: each plans its steps and runs them, recording every
 * change before it makes it (component-rollback.ts undoes them).
 */
import type { ComponentPreflight } from '../activities/component-preflight';
import type { ComponentStrategy, ComponentUpgradeRequest } from '../core/components';
import { describeClusterStorage, storageName } from '../core/cluster-storage';
import { DATABASE_CLIENT_PODS, TEMPORAL_DATABASES } from '../core/platform';
import { databaseChange, quick, redeploy, transfer } from './activity-options';
import { majorUpgradeStorage, type ComponentChanges } from './component-rollback';
import type { UpgradeRun } from './upgrade-steps';

/** A component upgrade past pre-flight: what its steps read, and the changes a rollback undoes. */
export interface ComponentUpgrade {
  run: UpgradeRun<ComponentUpgradeRequest>;
  preflight: ComponentPreflight;
  changes: ComponentChanges;
  /** The backup's directory name under the backup directory, unique to this upgrade. */
  backupId: string;
}

interface Strategy {
  steps(preflight: ComponentPreflight): { id: string; title: string }[];
  upgrade(upgrade: ComponentUpgrade): Promise<void>;
}

export const STRATEGIES: Record<ComponentStrategy, Strategy> = {
  /** Same major: the new image on the same cluster directory, which a minor release reads as it is. */
  'postgres-minor': {
    steps: ({ targetTag }) => [
      { id: 'set-tag', title: `Set the postgres image to ${targetTag} in pod-database.yaml` },
      { id: 'redeploy:database', title: 'Redeploy database and check the version it runs' },
    ],
    async upgrade(upgrade) {
      await setTag(upgrade);
      await redeployComponent(upgrade);
    },
  },

  /** A new major cannot start on the old one's storage: its own cluster, restored from a dump, verified table by table. */
  'postgres-major': {
    steps: (preflight) => {
      const { fresh } = majorUpgradeStorage(preflight);
      return [
        { id: 'stop-clients', title: `Stop every database client (${DATABASE_CLIENT_PODS.join(', ')})` },
        { id: 'dump', title: 'Dump the old cluster (pg_dumpall) and checksum every table' },
        {
          id: 'prepare-directory',
          title: `Prepare the new cluster's ${describeClusterStorage(fresh)}`,
        },
        {
          id: 'set-definition',
          title: `Set the postgres image to ${preflight.targetTag} and its data to ${storageName(fresh)}`,
        },
        { id: 'redeploy:database', title: 'Redeploy database on the new major and check the version it runs' },
        { id: 'restore', title: 'Restore the dump into the new cluster' },
        { id: 'verify-copy', title: 'Compare every database, role and table with the old cluster' },
        { id: 'start-clients', title: 'Start the database clients again' },
      ];
    },
    async upgrade(upgrade) {
      const { run, preflight, changes, backupId } = upgrade;
      const { progress } = run;
      const { current, fresh } = majorUpgradeStorage(preflight);
      changes.clientsStopped = true;
      await progress.run(
        'stop-clients',
        () => redeploy.stopDatabaseClients(),
        (pods) => `stopped ${pods.join(', ')}`,
      );
      const dump = await progress.run(
        'dump',
        () => transfer.dumpCluster({ backupId }),
        (record) => record.summary,
      );
      run.report.backup = { location: dump.location, files: [dump.file] };
      await progress.run(
        'prepare-directory',
        () => redeploy.prepareDataDirectory({ ...fresh, keep: storageName(current) }),
        (done) => done,
      );
      changes.definitionChanged = true;
      await progress.run('set-definition', async () => {
        await quick.setComponentImageTag({ pod: 'database', tag: preflight.targetTag });
        await quick.setDatabaseDataDirectory({ ...fresh });
      });
      await redeployComponent(upgrade);
      await progress.run(
        'restore',
        () => databaseChange().restoreCluster({ dump, ...fresh }),
        (done) => done,
      );
      await progress.run(
        'verify-copy',
        () => transfer.verifyClusterCopy({ dump }),
        (done) => done,
      );
      changes.clientsStarted = true;
      await progress.run(
        'start-clients',
        () => redeploy.startDatabaseClients(),
        (pods) => `started ${pods.join(', ')}`,
      );
    },
  },

  /** The platform's Temporal: its databases backed up with it stopped, then the new server migrates them (auto-setup). */
  'temporal-minor': {
    steps: ({ targetTag }) => [
      { id: 'stop-temporal', title: 'Stop the Temporal server (pod temporal)' },
      { id: 'backup', title: `Back up ${TEMPORAL_DATABASES.join(' and ')}` },
      { id: 'set-tag', title: `Set the auto-setup image to ${targetTag} in pod-temporal.yaml` },
      { id: 'redeploy:temporal', title: 'Redeploy temporal (the schema migrates) and check the version it runs' },
    ],
    async upgrade(upgrade) {
      const { run, changes, backupId } = upgrade;
      changes.temporalStopped = true;
      await run.progress.run('stop-temporal', () => redeploy.stopTemporalServer());
      const backup = await run.progress.run(
        'backup',
        () => transfer.backUpTemporalDatabases({ backupId }),
        (record) => `${record.location} (${record.files.length} files verified)`,
      );
      run.report.backup = backup;
      changes.temporalBackup = backup;
      await setTag(upgrade);
      await redeployComponent(upgrade);
    },
  },
};

async function setTag({ run, preflight, changes }: ComponentUpgrade): Promise<void> {
  changes.definitionChanged = true;
  await run.progress.run(
    'set-tag',
    () => quick.setComponentImageTag({ pod: changes.pod, tag: preflight.targetTag }),
    (previous) => `${previous} → ${preflight.targetTag}`,
  );
}

/** The pod redeployed on its new definition, ready, and running the version asked for. */
async function redeployComponent({ run, preflight, changes }: ComponentUpgrade): Promise<void> {
  const { pod, aegisTag } = changes;
  changes.redeployed = true;
  const notBefore = new Date().toISOString();
  await run.progress.run(
    `redeploy:${pod}`,
    async () => {
      await redeploy.redeployPod({ pod, tag: aegisTag, notBefore });
      await redeploy.awaitPodReady({ pod, tag: aegisTag });
      return pod === 'database'
        ? redeploy.verifyPostgresVersion({ version: preflight.plan.toVersion })
        : redeploy.verifyTemporalServer({ tag: preflight.targetTag });
    },
    (running) => running,
  );
}

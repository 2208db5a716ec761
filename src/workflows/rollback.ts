import { PRE_RESTORE_DIRECTORY, restoreSourceName, restoringDatabase } from '../core/backup-layout';
import {
  DATABASE_CONTAINER,
  DATABASE_WRITERS,
  DEFAULT_DATABASE_ROLE,
  HOST_CLI,
  MIGRATED_DATABASES,
  UPGRADE_LOCK_FILE,
  rollbackImageTag,
  type PodName,
} from '../core/platform';
import type { BackupRecord, KeptHostCli, RestoreDatabasePolicy } from '../core/upgrade';
import type { UpgradeLockOwner } from '../core/upgrade-lock';
import type { PlannedStep } from './runner';

/** What the upgrade has touched so far: each entry is recorded before the step that changes it runs. */
export interface UpgradeChanges {
  previousTag: string;
  /** The deployment's profile, for a full redeploy. */
  profile: string;
  /** The tag the running images were pinned under before anything changed. */
  pinTag: string;
  /** The images pinned, e.g. `ghcr.io/100monkeys-ai/aegis-runtime:<pinTag>`. */
  pinnedImages?: string[];
  tagChanged: boolean;
  /** Pods redeployed (or being redeployed) with the new tag, in order. */
  redeployedPods: PodName[];
  /** The whole profile was torn down and deployed again (`strategy: full`). */
  fullRedeploy: boolean;
  backup?: BackupRecord;
  /** The writers of the migrated databases were stopped for the final dump (and may not be running again). */
  writersStopped?: boolean;
  /** The host's `bin/aegis` as Step 2 kept it in the backup. */
  hostCli?: KeptHostCli;
  /** `bin/aegis` may have been replaced, and the FUSE daemon restarted (the upgrade's step, or `make deploy`'s). */
  hostCliChanged?: boolean;
}

export type RollbackStep = PlannedStep &
  (
    | { kind: 'restore-tag' }
    | { kind: 'restore-database' }
    | { kind: 'redeploy'; pod: PodName }
    | { kind: 'redeploy-platform' }
    | { kind: 'restore-host-cli' }
    | { kind: 'resume-writers' }
    | { kind: 'validate' }
  );

/**
 * The compensation, in the order the guide's rollback runs it: the previous tag back in `.env` first (a redeploy
 * reads it), then the database pod if it was touched (everything after needs it), then the database restored while
 * its writers are stopped (beside the tag when the database pod was not touched: they share nothing), then the other
 * touched pods redeployed in reverse order, then the host's binary put back and its FUSE daemon restarted (on the
 * previous runtime), then the writers no redeploy brought back started again, then validation. Nothing touched, nothing
 * to undo.
 */
export function planRollback(changes: UpgradeChanges, policy: RestoreDatabasePolicy): RollbackStep[] {
  if (!changes.tagChanged && changes.redeployedPods.length === 0 && !changes.fullRedeploy) return [];
  const steps: RollbackStep[] = [];
  if (changes.tagChanged) {
    steps.push({
      kind: 'restore-tag',
      id: 'rollback:tag',
      title: `Set AEGIS_IMAGE_TAG back to ${changes.previousTag}`,
    });
  }
  const runtimeTouched = changes.fullRedeploy || changes.redeployedPods.includes('core');
  const restore = Boolean(changes.backup) && policy !== 'never' && (runtimeTouched || policy === 'always');
  const redeploy = (pod: PodName): RollbackStep => ({
    kind: 'redeploy',
    id: `rollback:redeploy:${pod}`,
    title: `Redeploy ${pod} on the previous images`,
    pod,
  });
  // The database pod comes back first, not last as the reverse order would have it: every other pod, and the restore,
  // use it. Its image carries no AEGIS tag, so nothing it runs depends on the pods redeployed after it.
  const databaseTouched = !changes.fullRedeploy && changes.redeployedPods.includes('database');
  if (databaseTouched) steps.push(redeploy('database'));
  if (restore) {
    steps.push({
      kind: 'restore-database',
      id: 'rollback:database',
      title: `Restore ${MIGRATED_DATABASES.join(', ')} if the schema moved`,
      // Right after the tag, it runs beside it: one puts images and `.env` back, the other the database.
      ...(steps.at(-1)?.kind === 'restore-tag' && { besidePrevious: true }),
    });
  }
  if (changes.fullRedeploy) {
    steps.push({ kind: 'redeploy-platform', id: 'rollback:deploy', title: 'Tear down and deploy the profile again' });
  } else {
    const pods = [...changes.redeployedPods].reverse().filter((pod) => pod !== 'database');
    // A restore stops the runtime: it must come back even if the upgrade never reached it.
    if (restore && !pods.includes('core')) pods.push('core');
    steps.push(...pods.map(redeploy));
  }
  if (changes.hostCliChanged && changes.hostCli?.copy) {
    const title = `Put ${changes.hostCli.version ?? 'the previous binary'} back in ${HOST_CLI.binary}, restart ${HOST_CLI.unit}`;
    steps.push({ kind: 'restore-host-cli', id: 'rollback:host-cli', title });
  }
  if (changes.writersStopped || steps.some((step) => step.kind === 'restore-database')) {
    steps.push({ kind: 'resume-writers', id: 'rollback:writers', title: 'Start the stopped database writers again' });
  }
  steps.push({ kind: 'validate', id: 'rollback:validate', title: 'Validate the platform again' });
  return steps;
}

/** The commands that finish a failed rollback by hand, from the deploy checkout; the last clears the lock, recorded. */
export function manualRollbackSteps(
  changes: UpgradeChanges,
  done: readonly string[],
  policy: RestoreDatabasePolicy,
  environment: string,
): string[] {
  const left = planRollback(changes, policy).filter((step) => !done.includes(step.id));
  const writers = DATABASE_WRITERS.map((writer) => writer.container).join(' ');
  const backup = changes.backup;
  const commands = left.flatMap((step): string[] => {
    switch (step.kind) {
      case 'restore-tag':
        return restoreTagCommands(changes);
      case 'restore-database':
        return backup
          ? [`podman stop --ignore ${writers}`, ...MIGRATED_DATABASES.flatMap((db) => manualRestore(backup, db))]
          : [];
      case 'redeploy':
        return [`make redeploy POD=${step.pod}`];
      case 'redeploy-platform':
        return [
          `make teardown PROFILE=${changes.profile}`,
          `make deploy PROFILE=${changes.profile}`,
          'make bootstrap-secrets',
        ];
      case 'restore-host-cli':
        return changes.hostCli?.copy
          ? [
              `install -m 0755 ${changes.hostCli.copy} ${HOST_CLI.binary}.new && mv ${HOST_CLI.binary}.new ${HOST_CLI.binary}`,
              `systemctl --user restart ${HOST_CLI.unit}`,
            ]
          : [];
      case 'resume-writers':
        return [`for c in ${writers}; do if podman container exists $c; then podman start $c; fi; done`];
      case 'validate':
        return ['make validate'];
    }
  });
  return [...commands, clearLockCommand(environment)];
}

/**
 * What the rollback's tag step does, by hand: the previous tag re-pointed at the pinned images, then named in `.env`;
 * after `latest`, the pin itself is named, as the registry's `latest` may have moved to the new release.
 */
function restoreTagCommands(changes: UpgradeChanges): string[] {
  const tag = rollbackImageTag(changes.previousTag, changes.pinTag);
  const retag =
    tag === changes.pinTag
      ? []
      : (changes.pinnedImages ?? []).map(
          (pinned) => `podman tag ${pinned} ${pinned.slice(0, -changes.pinTag.length)}${changes.previousTag}`,
        );
  return [...retag, `sed -i 's/^AEGIS_IMAGE_TAG=.*/AEGIS_IMAGE_TAG=${tag}/' .env`];
}

/** How an operator clears the lock of an upgrade that could not clear it: `unlock` records who did, when, why. */
function clearLockCommand(environment: string): string {
  return `aegis-upgrade unlock --env ${environment} --reason "rolled back by hand"`;
}

/** What the report says when the lock could not be released: it stays, and how to clear it. */
export function lockNotReleased(reason: string, environment: string): string {
  return (
    `The upgrade's lock ${UPGRADE_LOCK_FILE} could not be released (${reason}): it stays, and the next upgrade is ` +
    `refused until it is cleared; clear it with \`${clearLockCommand(environment)}\``
  );
}

/**
 * Restores one database by hand as the activity does: the live one dumped first (whatever the activity got to), the
 * dump restored into a scratch database in one transaction, then swapped in. Each line can be run again.
 */
function manualRestore(backup: BackupRecord, database: string): string[] {
  const role = backupRole(backup);
  const psql = `podman exec ${DATABASE_CONTAINER} psql -X -v ON_ERROR_STOP=1 -U ${role} -d postgres`;
  const scratch = restoringDatabase(database);
  const preRestore = `${backup.location}/${PRE_RESTORE_DIRECTORY}`;
  return [
    `(umask 077 && mkdir -p ${preRestore} && if ${psql} -Atc "select 1 from pg_database where datname = '${database}'" | grep -q 1; ` +
      `then podman exec ${DATABASE_CONTAINER} pg_dump -U ${role} -Fc ${database} > ${preRestore}/${database}.manual-$(date -u +%Y%m%dT%H%M%SZ).dump; fi)`,
    `${psql} -c "drop database if exists ${scratch} with (force)" -c "create database ${scratch} owner ${role}"`,
    `podman exec -i ${DATABASE_CONTAINER} pg_restore -U ${role} -d ${scratch} --single-transaction --exit-on-error < ${backup.location}/${restoreSourceName(backup, database)}`,
    `${psql} -c "drop database if exists ${database} with (force)" -c "alter database ${scratch} rename to ${database}"`,
  ];
}

/** The role a backup's dumps were taken as, which the activities read from `POSTGRES_USER`; an older record's default. */
export function backupRole(backup: BackupRecord): string {
  return backup.role ?? DEFAULT_DATABASE_ROLE;
}

/** OCI tags are at most 128 characters: the workflow ID is cut, never the run ID that makes the tag this run's own. */
const TAG_LIMIT = 128;

/** The tag that pins the images running before this run: its own, so a later run never re-points it. */
export function rollbackPinTag({ workflowId, runId }: UpgradeLockOwner): string {
  const suffix = `-${runId.replace(/[^A-Za-z0-9_.-]/g, '-')}`;
  const prefix = `aegis-rollback-${workflowId.replace(/[^A-Za-z0-9_.-]/g, '-')}`;
  return `${prefix.slice(0, TAG_LIMIT - suffix.length)}${suffix}`;
}

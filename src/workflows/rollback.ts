import {
  DATABASE_CONTAINER,
  RUNTIME_DATABASE,
  UPGRADE_LOCK_FILE,
  podFullName,
  rollbackImageTag,
  type PodName,
} from '../platform';
import type { BackupRecord, RestoreDatabasePolicy } from '../upgrade';

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
}

export type RollbackStep =
  | { kind: 'restore-tag'; id: string; title: string }
  | { kind: 'restore-database'; id: string; title: string }
  | { kind: 'redeploy'; id: string; title: string; pod: PodName }
  | { kind: 'redeploy-platform'; id: string; title: string }
  | { kind: 'validate'; id: string; title: string };

/**
 * The compensation, in the order the guide's rollback runs it: the previous tag back in `.env` first (a redeploy
 * reads it), then the database pod if it was touched, then the database restored while its writer is stopped, then
 * the other touched pods redeployed in reverse order, then validation. Nothing touched, nothing to undo.
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
      title: 'Restore the aegis database if its schema moved',
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
  steps.push({ kind: 'validate', id: 'rollback:validate', title: 'Validate the platform again' });
  return steps;
}

/** The commands that finish a failed rollback by hand, from the deploy checkout. */
export function manualRollbackSteps(
  changes: UpgradeChanges,
  done: readonly string[],
  policy: RestoreDatabasePolicy,
): string[] {
  const left = planRollback(changes, policy).filter((step) => !done.includes(step.id));
  const dump = changes.backup && `${changes.backup.location}/${RUNTIME_DATABASE}.dump`;
  const commands = left.flatMap((step): string[] => {
    switch (step.kind) {
      case 'restore-tag':
        return restoreTagCommands(changes);
      case 'restore-database':
        return dump
          ? [
              `podman pod stop ${podFullName('core')}`,
              `podman exec ${DATABASE_CONTAINER} psql -U aegis -d postgres -c "drop database if exists ${RUNTIME_DATABASE} with (force)" -c "create database ${RUNTIME_DATABASE} owner aegis"`,
              `podman exec -i ${DATABASE_CONTAINER} pg_restore -U aegis -d ${RUNTIME_DATABASE} --single-transaction --exit-on-error < ${dump}`,
            ]
          : [];
      case 'redeploy':
        return [`make redeploy POD=${step.pod}`];
      case 'redeploy-platform':
        return [
          `make teardown PROFILE=${changes.profile}`,
          `make deploy PROFILE=${changes.profile}`,
          'make bootstrap-secrets',
        ];
      case 'validate':
        return ['make validate'];
    }
  });
  return [...commands, CLEAR_LOCK_COMMAND];
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

/** How an operator clears the lock of an upgrade that could not clear it, from the deploy checkout. */
const CLEAR_LOCK_COMMAND = `rm ${UPGRADE_LOCK_FILE}`;

/** What the report says when the lock could not be released: it stays, and how to clear it. */
export function lockNotReleased(reason: string): string {
  return (
    `The upgrade's lock ${UPGRADE_LOCK_FILE} could not be released (${reason}): it stays, and the next upgrade is ` +
    `refused until it is cleared; clear it in the deploy checkout with \`${CLEAR_LOCK_COMMAND}\``
  );
}

/**
 * What the AEGIS platform is made of, as the deploy checkout and the runtime define it (see docs/platform.md).
 * Pure data: the workflow, the activities and the CLI all read it.
 */

/** Pods in the guide's rolling order: database first (schema), then the runtime, then the rest. */
export const ROLLING_ORDER = ['database', 'core', 'temporal', 'seal-gateway', 'observability'] as const;

export type PodName = (typeof ROLLING_ORDER)[number];

/** The three images AEGIS releases; each comes from its own repository, so a tag may exist for one only. */
export const AEGIS_IMAGES = ['aegis-runtime', 'aegis-temporal-worker', 'aegis-seal-gateway'] as const;

export type AegisImage = (typeof AEGIS_IMAGES)[number];

/** Which AEGIS image each pod runs, in which container (`<pod name>-<container>`). */
export const POD_IMAGES: Partial<Record<PodName, { image: AegisImage; container: string }>> = {
  core: { image: 'aegis-runtime', container: 'aegis-core-aegis-runtime' },
  temporal: { image: 'aegis-temporal-worker', container: 'aegis-temporal-temporal-worker' },
  'seal-gateway': { image: 'aegis-seal-gateway', container: 'aegis-seal-gateway-seal-gateway' },
};

export const DATABASE_CONTAINER = 'aegis-database-postgres';

/**
 * The host's side of the platform (docs/host-cli.md): `make install-cli` takes the runtime image's binary out into the
 * checkout's `bin/aegis`, and the FUSE daemon, a user unit installed from the checkout, runs it.
 */
export const HOST_CLI = {
  /** In the checkout. */
  binary: 'bin/aegis',
  /** In the runtime image. */
  imageBinary: '/usr/local/bin/aegis-runtime',
  unit: 'aegis-fuse-daemon',
  /** The unit's variable that names where the daemon serves its clients (`--listen-addr`, gRPC). */
  listenVariable: 'AEGIS_FUSE_DAEMON_LISTEN_ADDR',
  /** In the checkout: the unit's file, which the host's setup installs. */
  unitFile: 'systemd/aegis-fuse-daemon.service',
} as const;

/** The image repository of PostgreSQL on any registry (`docker.io/postgres`, `…/library/postgres`). */
export const POSTGRES_REPOSITORY = 'postgres';

/** The role the activities connect, dump and restore as when `.env` sets no `POSTGRES_USER` (docs/platform.md). */
export const DEFAULT_DATABASE_ROLE = 'aegis';
export const RUNTIME_CONTAINER = 'aegis-core-aegis-runtime';

/** OpenBao's container (pod secrets, in every profile of the real checkout). */
export const OPENBAO_CONTAINER = 'aegis-secrets-openbao';

/** The runtime's own database: the only one a rollback restores (never Temporal's, it holds this very upgrade). */
export const RUNTIME_DATABASE = 'aegis';

/**
 * The databases the upgraded images migrate: the final dump takes them, a rollback restores them (together: one
 * release's schema). Only the runtime migrates (`_sqlx_migrations` in `aegis`); `temporal` and `temporal_visibility`
 * must never be here, they hold this very upgrade's history. A new migrated database is one more entry.
 */
export const MIGRATED_DATABASES: readonly string[] = [RUNTIME_DATABASE];

/**
 * The containers that write to the migrated databases in the sandbox's pods, as the manual steps of a failed rollback
 * name them (workflow code reads no files). The activities stop and start the writers they read from the checkout's
 * own pod definitions (host/database-writers.ts, docs/platform.md#who-writes-to-the-database). A unit test reads the
 * sandbox's pods and finds these.
 */
export const DATABASE_WRITERS: readonly { pod: PodName; container: string }[] = [
  // AEGIS_DATABASE_URL in pod-core.yaml
  { pod: 'core', container: RUNTIME_CONTAINER },
  // DATABASE_URL in pod-temporal.yaml; stopped alone: `make redeploy POD=temporal` would restart Temporal too
  { pod: 'temporal', container: 'aegis-temporal-temporal-worker' },
];

/** The lock file an upgrade holds in the deploy checkout: one upgrade at a time per deployment. */
export const UPGRADE_LOCK_FILE = '.aegis-upgrade.lock';

/**
 * Beside it, while the writers are stopped: the IDs of the writer containers the upgrade stopped, so that it starts
 * those again and no other (a container `make redeploy` created since is the new release's: if it stopped, it crashed).
 */
export const STOPPED_WRITERS_FILE = '.aegis-upgrade.writers-stopped';

/** Beside it, one JSON line per lock cleared by `aegis-upgrade unlock`: who, when, why, what it held. */
export const UPGRADE_LOCK_HISTORY_FILE = '.aegis-upgrade.lock-history';

/** `core` → `aegis-core`; any pod of a profile, e.g. `secrets`, not only those the upgrade redeploys. */
export function podFullName(pod: string): string {
  return `aegis-${pod}`;
}

export function isPodName(value: string): value is PodName {
  return (ROLLING_ORDER as readonly string[]).includes(value);
}

/** OCI tag grammar: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`. */
const OCI_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

export function isImageTag(value: string): boolean {
  return OCI_TAG.test(value);
}

/** Whether a tag may point at other images tomorrow: `latest` is pulled anew by `podman play kube`. */
export function isMutableTag(tag: string): boolean {
  return tag === 'latest';
}

/** A digest as an operator reads it: the algorithm and the first 12 hex digits, `sha256:0123456789ab`. */
export function shortDigest(digest: string): string {
  const [algorithm, hex = ''] = digest.split(':');
  return `${algorithm}:${hex.slice(0, 12)}`;
}

/**
 * The version an upgrade started from, as an operator reads it. A moving tag says nothing by itself: it names the
 * runtime's image it meant when the upgrade began, `latest (sha256:0123456789ab)`; a release's tag is itself.
 */
export function fromLabel({
  fromVersion,
  fromDigest,
}: {
  fromVersion?: string;
  fromDigest?: string;
}): string | undefined {
  if (fromVersion === undefined) return undefined;
  return fromDigest !== undefined && isMutableTag(fromVersion)
    ? `${fromVersion} (${shortDigest(fromDigest)})`
    : fromVersion;
}

/**
 * The tag `.env` names after a rollback: the previous one, re-pointed at the pinned images, or the pin itself when the
 * previous tag is mutable (a redeploy would pull whatever the registry's `latest` is now).
 */
export function rollbackImageTag(previousTag: string, pinTag: string): string {
  return isMutableTag(previousTag) ? pinTag : previousTag;
}

/**
 * The pods whose containers connect to the database (the URLs and seeds of their YAML): a major PostgreSQL upgrade stops
 * them all before its dump, so the old cluster is never written after it, and starts them once the new one is verified.
 */
export const DATABASE_CLIENT_PODS: readonly PodName[] = ['core', 'temporal', 'seal-gateway'];

/** Beside the lock, while a major PostgreSQL upgrade has them stopped: the client pods it stopped (those running). */
export const STOPPED_CLIENTS_FILE = '.aegis-upgrade.clients-stopped';

/** The platform's own Temporal server (pod temporal) and the databases its schema tool migrates. */
export const TEMPORAL_CONTAINER = 'aegis-temporal-temporal';
export const TEMPORAL_DATABASES: readonly string[] = ['temporal', 'temporal_visibility'];

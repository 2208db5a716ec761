/**
 * Where the database pod keeps PostgreSQL's cluster on the host (docs/components.md#where-the-cluster-lives): a host
 * directory (`hostPath`, the sandbox) or a podman named volume (`persistentVolumeClaim`, the real platform). Pure data:
 * the workflow, the activities and pre-flight all read it.
 *
 * Written as activity inputs carry it: `{ directory }` is what upgrades recorded before named volumes existed passed,
 * so those replay with the same inputs (docs/versioning.md).
 */
export type ClusterStorage = { directory: string } | { volume: string };

export function isNamedVolume(storage: ClusterStorage): storage is { volume: string } {
  return 'volume' in storage;
}

/** The directory's path or the volume's name. */
export function storageName(storage: ClusterStorage): string {
  return isNamedVolume(storage) ? storage.volume : storage.directory;
}

/** `directory /srv/pgdata`, `named volume aegis-postgres-data`: storage in a message. */
export function describeClusterStorage(storage: ClusterStorage): string {
  return isNamedVolume(storage) ? `named volume ${storage.volume}` : `directory ${storage.directory}`;
}

export function sameClusterStorage(a: ClusterStorage, b: ClusterStorage): boolean {
  return isNamedVolume(a) === isNamedVolume(b) && storageName(a) === storageName(b);
}

/**
 * The fresh storage of the same kind beside `storage` for a new major's cluster: `<directory>-16`, `<volume>-16`. The
 * old one is never written after the clients stop, nor removed: the rollback points the pod back at it.
 */
export function freshClusterStorage(storage: ClusterStorage, major: string): ClusterStorage {
  return isNamedVolume(storage)
    ? { volume: `${storage.volume}-${major}` }
    : { directory: `${storage.directory}-${major}` };
}

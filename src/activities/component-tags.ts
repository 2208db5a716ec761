import path from 'node:path';
import {
  describeClusterStorage,
  isNamedVolume,
  sameClusterStorage,
  storageName,
  type ClusterStorage,
} from '../core/cluster-storage';
import { POSTGRES_REPOSITORY, isImageTag } from '../core/platform';
import type { Deployment } from '../host/deployment';
import { writeFileAtomic } from '../host/env-file';
import { InvalidActivityInput, PreflightFailed } from '../core/errors';
import {
  containerImages,
  describeVolume,
  mountedVolume,
  namesRepository,
  readPodDefinition,
  withScalar,
  type ContainerImage,
  type MountedVolume,
  type PodDefinition,
} from '../host/pod-definitions';

/** The pods whose YAML names a third-party image this worker upgrades, and that image's repository. */
export const COMPONENT_IMAGES = {
  // PgBouncer and the exporter beside it are other repositories.
  database: POSTGRES_REPOSITORY,
  // The UI (`temporalio/ui`) and the AEGIS worker are left alone.
  temporal: 'temporalio/auto-setup',
} as const;

export type ComponentPod = keyof typeof COMPONENT_IMAGES;

/** Where PostgreSQL keeps its cluster inside its container: the volume mounted there is the data directory. */
const PGDATA_MOUNT = '/var/lib/postgresql/data';

function componentImage(definition: PodDefinition, pod: ComponentPod): ContainerImage | undefined {
  return containerImages(definition).find((image) => namesRepository(image.name, COMPONENT_IMAGES[pod]));
}

/** The component image's tag in a pod's YAML, or undefined when no container runs that image with a tag. */
export function componentImageTag(definition: PodDefinition, pod: ComponentPod): string | undefined {
  return componentImage(definition, pod)?.tag;
}

export function withComponentImageTag(definition: PodDefinition, pod: ComponentPod, tag: string): string {
  const image = componentImage(definition, pod);
  if (!image) throw new PreflightFailed(`${definition.file} names no ${COMPONENT_IMAGES[pod]} image to upgrade`);
  return withScalar(definition, image.node, `${image.name}:${tag}`);
}

/**
 * The tag of PostgreSQL `version` in the variant running (`15-alpine` → `16-alpine`): a minor on another libc would
 * read its indexes with other collations.
 */
export function postgresImageTag(currentTag: string, version: string): string {
  const variant = /^\d+(?:\.\d+)*(.*)$/.exec(currentTag)?.[1] ?? '';
  return `${version}${variant}`;
}

/** What keeps the database pod's cluster: the volume mounted at PGDATA, a host directory or a named volume. */
export function databaseDataVolume(definition: PodDefinition): MountedVolume {
  return mountedVolume(definition, PGDATA_MOUNT);
}

type HostDirectory = Extract<MountedVolume, { kind: 'host-directory' }>;
type NamedVolume = Extract<MountedVolume, { kind: 'named-volume' }>;

/** The database pod's data volume when it is a host directory or a named volume; refuses, naming it, any other. */
function clusterVolume(definition: PodDefinition): HostDirectory | NamedVolume {
  const volume = databaseDataVolume(definition);
  if (volume.kind !== 'host-directory' && volume.kind !== 'named-volume') {
    throw new PreflightFailed(
      `${definition.file} keeps the cluster (${PGDATA_MOUNT}) in ${describeVolume(volume)}, neither a host directory ` +
        '(hostPath) nor a named volume (persistentVolumeClaim): the upgrade cannot tell where the cluster lives; mount one of those there',
    );
  }
  return volume;
}

/** Where the database pod keeps its cluster: the host directory or the named volume mounted at PGDATA. */
export function databaseClusterStorage(definition: PodDefinition): ClusterStorage {
  const volume = clusterVolume(definition);
  return volume.kind === 'named-volume' ? { volume: volume.claimName } : { directory: volume.path };
}

/** The definition with the cluster's storage set to `storage`, of the same kind (the path, or the claim's name). */
export function withDatabaseClusterStorage(definition: PodDefinition, storage: ClusterStorage): string {
  const volume = clusterVolume(definition);
  const current = databaseClusterStorage(definition);
  if (isNamedVolume(current) !== isNamedVolume(storage)) {
    throw new PreflightFailed(
      `${definition.file} keeps the cluster in the ${describeClusterStorage(current)}: one edit cannot point it at ` +
        `the ${describeClusterStorage(storage)}, another kind of storage; nothing was changed`,
    );
  }
  return withScalar(definition, volume.node, storageName(storage));
}

/** The database pod's data volume when it is a host directory; refuses, naming it, any other storage. */
function hostDataDirectory(definition: PodDefinition): HostDirectory {
  const volume = databaseDataVolume(definition);
  if (volume.kind !== 'host-directory') {
    throw new PreflightFailed(
      `${definition.file} keeps the cluster (${PGDATA_MOUNT}) in ${describeVolume(volume)}, not a host directory: ` +
        'a major upgrade starts the new cluster in a fresh directory beside the old one (hostPath); move the data to a host directory first',
    );
  }
  return volume;
}

/** The host directory of the database pod's cluster; refuses a named volume (`databaseClusterStorage` takes both). */
export function databaseDataDirectory(definition: PodDefinition): string {
  return hostDataDirectory(definition).path;
}

export function withDatabaseDataDirectory(definition: PodDefinition, directory: string): string {
  return withScalar(definition, hostDataDirectory(definition).node, directory);
}

/** A data directory this worker writes into a pod's YAML: absolute, plain, never one a shell or YAML would re-read. */
export function checkDataDirectory(directory: unknown): string {
  if (typeof directory !== 'string' || !path.isAbsolute(directory) || !/^\/[A-Za-z0-9_./-]+$/.test(directory)) {
    throw new InvalidActivityInput('directory', 'an absolute path of letters, digits, _ . - and /', String(directory));
  }
  return path.normalize(directory);
}

/** A named volume this worker writes into a pod's YAML and hands podman: podman's grammar of volume names. */
export function checkVolumeName(volume: unknown): string {
  if (typeof volume !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(volume)) {
    throw new InvalidActivityInput('volume', 'a volume name of letters, digits, _ . and - (not first)', String(volume));
  }
  return volume;
}

/** The cluster storage an activity was given (`{ directory }` or `{ volume }`), checked as it will be written. */
export function checkClusterStorage(input: object): ClusterStorage {
  return 'volume' in input
    ? { volume: checkVolumeName(input.volume) }
    : { directory: checkDataDirectory('directory' in input ? input.directory : undefined) };
}

export function createComponentTagActivities(deployment: Deployment) {
  const read = (pod: ComponentPod) => readPodDefinition(deployment.root, pod);

  return {
    /** Sets the component image's tag in the pod's YAML; returns the tag it had. Again with the same tag: a no-op. */
    async setComponentImageTag({ pod, tag }: { pod: ComponentPod; tag: string }): Promise<string> {
      if (typeof tag !== 'string' || !isImageTag(tag))
        throw new InvalidActivityInput('tag', 'an image tag', String(tag));
      const definition = await read(pod);
      const previous = componentImageTag(definition, pod);
      if (previous === undefined) throw new PreflightFailed(`${definition.file} names no ${pod} image to upgrade`);
      if (previous !== tag) await writeFileAtomic(definition.file, withComponentImageTag(definition, pod, tag));
      return previous;
    },

    /**
     * Points the database pod's data volume at a host directory or a named volume, of the kind it has; returns the
     * directory or volume it named. (Its name is older than named volumes: upgrades in flight call it so.)
     */
    async setDatabaseDataDirectory(storage: ClusterStorage): Promise<string> {
      const wanted = checkClusterStorage(storage);
      const definition = await read('database');
      const previous = databaseClusterStorage(definition);
      if (!sameClusterStorage(previous, wanted)) {
        await writeFileAtomic(definition.file, withDatabaseClusterStorage(definition, wanted));
      }
      return storageName(previous);
    },
  };
}

import fs from 'node:fs/promises';
import path from 'node:path';
import { isImageTag } from '../platform';
import type { Deployment } from './deployment';
import { podYamlPath } from './deployment';
import { writeFileAtomic } from './env-file';
import { InvalidActivityInput, PreflightFailed } from './errors';

/** The pods whose YAML names a third-party image this worker upgrades, and how that image line reads. */
export const COMPONENT_IMAGES = {
  // `image: "…/library/postgres:15-alpine"`; PgBouncer's image beside it is another repository.
  database: /^(\s*(?:-\s*)?image:\s*["']?(?:[^\s"']*\/)?postgres:)([A-Za-z0-9_][A-Za-z0-9_.-]*)/m,
  // `image: "…/temporalio/auto-setup:1.23.0"`; the UI (`temporalio/ui`) and the AEGIS worker are left alone.
  temporal: /^(\s*(?:-\s*)?image:\s*["']?(?:[^\s"']*\/)?temporalio\/auto-setup:)([A-Za-z0-9_][A-Za-z0-9_.-]*)/m,
} as const;

export type ComponentPod = keyof typeof COMPONENT_IMAGES;

/** Where PostgreSQL keeps its cluster inside its container: the volume mounted there is the data directory. */
const PGDATA_MOUNT = '/var/lib/postgresql/data';

/** The component image's tag in a pod's YAML, or undefined when no line names that image. */
export function componentImageTag(yaml: string, pod: ComponentPod): string | undefined {
  return COMPONENT_IMAGES[pod].exec(yaml)?.[2];
}

export function withComponentImageTag(yaml: string, pod: ComponentPod, tag: string): string {
  return yaml.replace(COMPONENT_IMAGES[pod], (_, prefix: string) => `${prefix}${tag}`);
}

/**
 * The tag of PostgreSQL `version` in the variant running (`15-alpine` → `16-alpine`): a minor on another libc would
 * read its indexes with other collations.
 */
export function postgresImageTag(currentTag: string, version: string): string {
  const variant = /^\d+(?:\.\d+)*(.*)$/.exec(currentTag)?.[1] ?? '';
  return `${version}${variant}`;
}

/** The `hostPath` line of the volume mounted at PGDATA, as `path: <dir>` in the pod's `volumes`. */
function dataVolumePath(yaml: string): RegExp | undefined {
  const mounted = new RegExp(
    `-\\s*name:\\s*["']?([\\w.-]+)["']?\\s*\\n\\s*mountPath:\\s*["']?${PGDATA_MOUNT}["']?\\s*$`,
    'm',
  );
  const volume = mounted.exec(yaml)?.[1];
  if (!volume) return undefined;
  return new RegExp(`(-\\s*name:\\s*["']?${volume}["']?\\s*\\n\\s*hostPath:\\s*\\n\\s*path:\\s*)(\\S+)`);
}

/** The host directory of the database pod's cluster, or undefined when the YAML mounts none at PGDATA. */
export function databaseDataDirectory(yaml: string): string | undefined {
  const line = dataVolumePath(yaml);
  return line && line.exec(yaml)?.[2]?.replace(/^["']|["']$/g, '');
}

export function withDatabaseDataDirectory(yaml: string, directory: string): string {
  const line = dataVolumePath(yaml);
  if (!line) throw new PreflightFailed(`pod-database.yaml mounts no volume at ${PGDATA_MOUNT}`);
  return yaml.replace(line, (_, prefix: string) => `${prefix}${directory}`);
}

/** A data directory this worker writes into a pod's YAML: absolute, plain, never one a shell or YAML would re-read. */
export function checkDataDirectory(directory: unknown): string {
  if (typeof directory !== 'string' || !path.isAbsolute(directory) || !/^\/[A-Za-z0-9_./-]+$/.test(directory)) {
    throw new InvalidActivityInput('directory', 'an absolute path of letters, digits, _ . - and /', String(directory));
  }
  return path.normalize(directory);
}

export function createComponentTagActivities(deployment: Deployment) {
  const yamlOf = (pod: ComponentPod) => podYamlPath(deployment.root, pod);
  const read = (pod: ComponentPod) => fs.readFile(yamlOf(pod), 'utf8');

  return {
    /** Sets the component image's tag in the pod's YAML; returns the tag it had. Again with the same tag: a no-op. */
    async setComponentImageTag({ pod, tag }: { pod: ComponentPod; tag: string }): Promise<string> {
      if (typeof tag !== 'string' || !isImageTag(tag))
        throw new InvalidActivityInput('tag', 'an image tag', String(tag));
      const yaml = await read(pod);
      const previous = componentImageTag(yaml, pod);
      if (previous === undefined) throw new PreflightFailed(`${yamlOf(pod)} names no ${pod} image to upgrade`);
      if (previous !== tag) await writeFileAtomic(yamlOf(pod), withComponentImageTag(yaml, pod, tag));
      return previous;
    },

    /** Points the database pod's data volume at `directory`; returns the directory it named. */
    async setDatabaseDataDirectory({ directory }: { directory: string }): Promise<string> {
      const wanted = checkDataDirectory(directory);
      const yaml = await read('database');
      const previous = databaseDataDirectory(yaml);
      if (previous !== wanted) await writeFileAtomic(yamlOf('database'), withDatabaseDataDirectory(yaml, wanted));
      return previous ?? '';
    },
  };
}

/**
 * Third-party images on moving tags (`pgbouncer:latest`, `openbao:latest`, `seaweedfs:latest`): what a redeploy of
 * their pod would run. `podman play kube` pulls an image whose tag is `latest` (or absent) again whenever the registry
 * names other bytes under it (docs/platform.md, "Moving tags"), so redeploying such a pod may change it although the
 * AEGIS release did not. Pre-flight compares, per container, the image it runs with the one its tag names now.
 */
import { randomUUID } from 'node:crypto';
import { POD_IMAGES, isMutableTag, isPodName, podFullName, shortDigest } from '../core/platform';
import { CommandFailed } from '../core/errors';
import type { Deployment } from './deployment';
import { containerImages, makeVariables, namesRepository, readPodDefinition } from './pod-definitions';
import { runningImageId } from './running-images';

/** A registry answers a manifest's request in seconds; one that takes a minute is down for this purpose. */
const REGISTRY_LOOK_TIMEOUT_MS = 60_000;

/** One container of a pod to redeploy whose third-party image has a moving tag, compared with its registry. */
export interface MovingImage {
  pod: string;
  /** The container as podman names it: `aegis-<pod>-<container>`. */
  container: string;
  /** As the pod's definition names it, rendered: `docker.io/edoburu/pgbouncer:latest`. */
  image: string;
  /** The digests the image the container runs was pulled by; empty when it does not run or was built here. */
  running: string[];
  /** The digest the registry names under the tag now. */
  registry?: string;
  /** Why the two could not be compared (the registry did not answer, the container is not there). */
  unknown?: string;
}

/** The registry names other bytes than the container runs: a redeploy of its pod would pull and run them. */
export function wouldChange(image: MovingImage): boolean {
  return image.registry !== undefined && !image.running.includes(image.registry);
}

/** `pgbouncer (edoburu/pgbouncer:latest, pod database): runs sha256:…, the registry names sha256:…`. */
export function describeMovingImage(image: MovingImage): string {
  const what = `${image.container.slice(podFullName(image.pod).length + 1)} (${image.image}, pod ${image.pod})`;
  if (image.unknown) return `${what}: not compared, ${image.unknown}`;
  const runs = image.running[0] ? shortDigest(image.running[0]) : 'an image built on this host';
  const registry = shortDigest(image.registry ?? '');
  return wouldChange(image) ? `${what}: runs ${runs}, the registry names ${registry}` : `${what}: ${runs}, unchanged`;
}

/** The digest part of `repository@sha256:…`. */
function digestOf(repoDigest: string): string {
  return repoDigest.slice(repoDigest.lastIndexOf('@') + 1);
}

/** The digests the image a container runs was pulled by (a list's and its instance's), by the repository any. */
async function runningDigests(deployment: Deployment, container: string): Promise<string[] | undefined> {
  const id = await runningImageId(deployment, container);
  if (!id) return undefined;
  try {
    const { stdout } = await deployment.podman(['image', 'inspect', '--format', '{{json .RepoDigests}}', id]);
    return ((JSON.parse(stdout) as string[] | null) ?? []).map(digestOf);
  } catch (error) {
    if (error instanceof CommandFailed) return undefined;
    throw error;
  }
}

/**
 * The digest the registry names under `ref` now, asked through podman with its own login, registries.conf and TLS
 * settings, and nothing pulled: a manifest list of this host's making, which `manifest add` fills with the registry's
 * manifest for this platform, read and removed. (`podman manifest inspect` of the tag itself does not print a single
 * image's manifest in podman 4.3.)
 */
export async function registryDigest(deployment: Deployment, ref: string): Promise<string> {
  const list = `localhost/aegis-upgrade-digest-${randomUUID()}`;
  await deployment.podman(['manifest', 'create', list]);
  try {
    await deployment.podman(['manifest', 'add', list, `docker://${ref}`], { timeoutMs: REGISTRY_LOOK_TIMEOUT_MS });
    const { stdout } = await deployment.podman(['manifest', 'inspect', list]);
    const digest = (JSON.parse(stdout) as { manifests?: { digest?: string }[] }).manifests?.[0]?.digest;
    if (!digest) throw new Error(`the registry's answer for ${ref} names no manifest`);
    return digest;
  } finally {
    await deployment.podman(['manifest', 'rm', list]).catch(() => undefined);
  }
}

/** A container whose third-party image has a moving tag, as its pod's definition names it. */
export type MovingTag = Pick<MovingImage, 'pod' | 'container' | 'image'>;

/**
 * Every container of `pods` whose image is a third-party one on a moving tag (an AEGIS image's tag is the release's:
 * the upgrade sets it), read from the pods' definitions rendered with `.env`, as `make redeploy` renders them.
 */
export async function thirdPartyMovingTags(deployment: Deployment, pods: readonly string[]): Promise<MovingTag[]> {
  const variables = makeVariables(await deployment.env());
  const found = await Promise.all(
    pods.map(async (pod) => {
      const aegis = isPodName(pod) ? POD_IMAGES[pod]?.image : undefined;
      const definition = await readPodDefinition(deployment.root, pod, variables);
      return containerImages(definition)
        .filter((image) => !image.digest && isMutableTag(image.tag ?? 'latest'))
        .filter((image) => !aegis || !namesRepository(image.name, aegis))
        .map((image) => ({
          pod,
          container: `${podFullName(pod)}-${image.container}`,
          image: `${image.name}:${image.tag ?? 'latest'}`,
        }));
    }),
  );
  return found.flat();
}

/** Each of `tags` with the digests its container runs and the one the registry names now. */
export async function compareWithRegistry(deployment: Deployment, tags: readonly MovingTag[]): Promise<MovingImage[]> {
  return Promise.all(
    tags.map(async (entry): Promise<MovingImage> => {
      const running = await runningDigests(deployment, entry.container);
      if (!running) return { ...entry, running: [], unknown: `${entry.container} does not run` };
      try {
        return { ...entry, running, registry: await registryDigest(deployment, entry.image) };
      } catch (error) {
        if (!(error instanceof CommandFailed)) throw error;
        return { ...entry, running, unknown: `the registry did not answer: ${error.outputTail}` };
      }
    }),
  );
}

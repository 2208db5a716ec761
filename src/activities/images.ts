import { AEGIS_IMAGES, POD_IMAGES, rollbackImageTag, type AegisImage } from '../core/platform';
import type { PulledImage } from '../core/upgrade';
import type { Deployment } from '../host/deployment';
import { CommandFailed } from '../core/errors';
import { cancellationSignal, heartbeatWhile } from '../host/heartbeat';
import { runningImageId } from '../host/running-images';

/** A pull of a large image over a slow link takes minutes; one that takes longer is stuck. */
const PULL_TIMEOUT_MS = 20 * 60_000;

export function imageRef(registry: string, image: AegisImage, tag: string): string {
  return `${registry}/${image}:${tag}`;
}

/** Asks the registry for the manifest without pulling the image; any other registry error is thrown. */
export async function imageExistsInRegistry(deployment: Deployment, ref: string): Promise<boolean> {
  try {
    await deployment.podman(['manifest', 'inspect', ref], { timeoutMs: 60_000 });
    return true;
  } catch (error) {
    if (!(error instanceof CommandFailed)) throw error;
    // podman 4.3 fetched the manifest but will not print a single-arch one: the image is there.
    if (/single images as manifest lists is not implemented/.test(error.outputTail)) return true;
    if (/manifest unknown|name unknown/i.test(error.outputTail)) return false;
    throw error;
  }
}

async function localImageId(deployment: Deployment, ref: string): Promise<string | undefined> {
  try {
    return (await deployment.podman(['image', 'inspect', '--format', '{{.Id}}', ref])).stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

export { isMutableTag } from '../core/platform';

export function createImageActivities(deployment: Deployment) {
  const { registry } = deployment.config.aegis;

  return {
    /** Pulls the target images concurrently; an image already present is not pulled again. */
    async pullImages({ tag }: { tag: string }): Promise<PulledImage[]> {
      const pullOne = async (image: AegisImage): Promise<PulledImage> => {
        const ref = imageRef(registry, image, tag);
        if (!(await localImageId(deployment, ref))) {
          await deployment.podman(['pull', '--quiet', ref], {
            timeoutMs: PULL_TIMEOUT_MS,
            signal: cancellationSignal(),
          });
        }
        const digest = (await deployment.podman(['image', 'inspect', '--format', '{{.Digest}}', ref])).stdout.trim();
        return { image: ref, digest };
      };
      return heartbeatWhile(Promise.all(AEGIS_IMAGES.map(pullOne)), `pulling ${tag}`);
    },

    /**
     * Tags the images that run now with `pinTag`, so a rollback finds them even when their tag moved (`latest`).
     * Returns the images pinned; one not deployed anywhere has nothing to pin.
     */
    async pinRunningImages({ currentTag, pinTag }: { currentTag: string; pinTag: string }): Promise<string[]> {
      const pinned: string[] = [];
      for (const image of AEGIS_IMAGES) {
        const container = Object.values(POD_IMAGES).find((entry) => entry?.image === image)?.container;
        const id =
          (container && (await runningImageId(deployment, container))) ??
          (await localImageId(deployment, imageRef(registry, image, currentTag)));
        if (!id) continue;
        const pin = imageRef(registry, image, pinTag);
        await deployment.podman(['tag', id, pin]);
        pinned.push(pin);
      }
      return pinned;
    },

    /**
     * Points the previous tag back at the pinned images and says which tag `.env` must name: the previous one,
     * or the pin itself when the previous tag is mutable and a redeploy would pull it anew.
     */
    async restorePinnedImages({ previousTag, pinTag }: { previousTag: string; pinTag: string }): Promise<string> {
      const tag = rollbackImageTag(previousTag, pinTag);
      if (tag === pinTag) return tag;
      // Each image on its own: the first step of every rollback waits for the slowest, not for the sum.
      await Promise.all(
        AEGIS_IMAGES.map(async (image) => {
          const id = await localImageId(deployment, imageRef(registry, image, pinTag));
          if (id) await deployment.podman(['tag', id, imageRef(registry, image, previousTag)]);
        }),
      );
      return tag;
    },
  };
}

/** What the platform's containers run: read from podman, as the platform's user sees them. */
import type { Deployment } from './deployment';

/** The ID of the image a container runs; nothing when the container is not there. */
export async function runningImageId(deployment: Deployment, container: string): Promise<string | undefined> {
  try {
    return (
      (await deployment.podman(['container', 'inspect', '--format', '{{.Image}}', container])).stdout.trim() ||
      undefined
    );
  } catch {
    return undefined;
  }
}

/** The digest of the image a container runs, as its registry named it; nothing when the container is not there. */
export async function runningImageDigest(deployment: Deployment, container: string): Promise<string | undefined> {
  const id = await runningImageId(deployment, container);
  if (!id) return undefined;
  try {
    return (await deployment.podman(['image', 'inspect', '--format', '{{.Digest}}', id])).stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

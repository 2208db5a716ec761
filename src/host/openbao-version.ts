/**
 * The OpenBao version a pod runs. Its tag says it when it is a version (`2.1.0`); the real checkout pins the moving
 * `latest`, so then the running container is asked (`bao version`: `OpenBao v2.1.0 ('…'), built …`).
 */
import { openbaoSupported } from '../core/components';
import type { Deployment } from './deployment';

/** `2.1.0` from `bao version`'s line; undefined when it names none. */
export function openbaoVersionOf(output: string): string | undefined {
  return /\bOpenBao v?(\d+\.\d+(?:\.\d+)?)/.exec(output)?.[1];
}

/**
 * The version `container` runs: its image's tag when that reads as a version, else what `bao version` answers in the
 * running container; undefined when neither says (the container not running, another binary).
 */
export async function openbaoVersion(
  deployment: Deployment,
  container: string,
  tag: string,
): Promise<string | undefined> {
  if (openbaoSupported(tag) !== undefined) return tag;
  const answer = await deployment.podman(['exec', container, 'bao', 'version']).catch(() => undefined);
  return answer && openbaoVersionOf(answer.stdout);
}

import fs from 'node:fs/promises';
import type { PodName } from '../platform';
import { podYamlPath } from './deployment';
import { IMAGE_TAG_KEY } from './env-file';

/** `$NAME` or `${NAME}`: what `envsubst` replaces (it leaves `${NAME:-x}` and the like as they are). */
const VARIABLE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;

/**
 * A pod's YAML as `make redeploy` hands it to `podman play kube`: `envsubst` over the variables of `.env` (and the
 * environment make runs in), an unset one replaced by nothing.
 */
export function renderPodDefinition(template: string, variables: ReadonlyMap<string, string>): string {
  return template.replace(VARIABLE, (_, braced?: string, bare?: string) => variables.get(braced ?? bare ?? '') ?? '');
}

/**
 * The pods whose definition is the same rendered with `targetTag` as with `.env` as it is: redeploying them would
 * restart them on what they run now. A pod whose YAML cannot be read counts as changed (its redeploy says why).
 */
export async function podsUnchangedByTag(
  root: string,
  pods: readonly PodName[],
  deployEnv: ReadonlyMap<string, string>,
  targetTag: string,
): Promise<PodName[]> {
  const inherited = Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined);
  const current = new Map([...inherited, ...deployEnv]);
  const target = new Map([...current, [IMAGE_TAG_KEY, targetTag]]);
  const unchanged = await Promise.all(
    pods.map(async (pod) => {
      const template = await fs.readFile(podYamlPath(root, pod), 'utf8').catch(() => undefined);
      return template !== undefined && renderPodDefinition(template, current) === renderPodDefinition(template, target);
    }),
  );
  return pods.filter((_, index) => unchanged[index]);
}

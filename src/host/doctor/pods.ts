/** Every pod definition of the checkout, read with a YAML parser and said in words: understood, or why not. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { isMap, isSeq, type Document } from 'yaml';
import { blocking, passed, warned, type DoctorCheck } from '../../core/doctor';
import { POD_IMAGES, isMutableTag, isPodName, podFullName } from '../../core/platform';
import { podYamlPath } from '../deployment';
import { IMAGE_TAG_KEY } from '../env-file';
import {
  containerImages,
  describeVolume,
  mountedVolume,
  namesRepository,
  parsePodDefinition,
  publishedHostPorts,
  type MountedVolume,
  type PodDefinition,
} from '../pod-definitions';
import { readIfPresent } from './files';

/** The pods the checkout defines: each directory of `podman/pods`, sorted. */
export async function definedPods(root: string): Promise<string[]> {
  const entries = await fs.readdir(path.join(root, 'podman', 'pods'), { withFileTypes: true }).catch(() => []);
  return entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
}

/**
 * Each container's volume mounts, the volume behind each resolved by pod-definitions' `mountedVolume`: asked of a copy
 * of the definition holding that container alone, since two containers may mount different volumes at one path.
 */
function mountsOf(definition: PodDefinition): { container: string; at: string; volume: MountedVolume }[] {
  const containers = definition.document.getIn(['spec', 'containers']);
  if (!isSeq(containers)) return [];
  return containers.items.flatMap((item, index) => {
    if (!isMap(item)) return [];
    const alone = definition.document.clone() as Document.Parsed;
    alone.setIn(['spec', 'containers'], alone.createNode([containers.items[index]]));
    const only = { ...definition, document: alone };
    const mounts = item.get('volumeMounts', true);
    const paths = isSeq(mounts) ? mounts.items.map((mount) => (isMap(mount) ? mount.get('mountPath') : undefined)) : [];
    const container = String(item.get('name') ?? '(unnamed)');
    return paths
      .filter((at): at is string => typeof at === 'string')
      .map((at) => ({ container, at, volume: mountedVolume(only, at) }));
  });
}

function containerCount(definition: PodDefinition): number {
  const containers = definition.document.getIn(['spec', 'containers']);
  return isSeq(containers) ? containers.items.length : 0;
}

/** What a pod's definition says, and what in it the upgrade would not understand. */
export function understandPod(pod: string, definition: PodDefinition) {
  const images = containerImages(definition);
  const problems: string[] = [];
  const metadataName = definition.document.getIn(['metadata', 'name']);
  if (metadataName !== podFullName(pod)) {
    problems.push(
      `its metadata.name is ${String(metadataName)}, not ${podFullName(pod)} (the name podman gives the pod)`,
    );
  }
  const containers = containerCount(definition);
  if (containers === 0) problems.push('it has no spec.containers');
  else if (images.length < containers) problems.push(`${containers - images.length} of its containers name no image`);
  const aegis = isPodName(pod) ? POD_IMAGES[pod] : undefined;
  if (aegis) {
    const image = images.find((candidate) => namesRepository(candidate.name, aegis.image));
    if (!image) problems.push(`no container runs ${aegis.image}`);
    else if (`${podFullName(pod)}-${image.container}` !== aegis.container) {
      problems.push(
        `${aegis.image} runs in container ${image.container}, not ${aegis.container.slice(podFullName(pod).length + 1)}`,
      );
    } else if (!['${AEGIS_IMAGE_TAG}', '$AEGIS_IMAGE_TAG'].includes(image.tag ?? '')) {
      problems.push(
        `${aegis.image}'s tag is ${image.tag ?? '(none)'}, not \${${IMAGE_TAG_KEY}}: the upgrade's new tag would not reach it`,
      );
    }
  }
  const volumes = mountsOf(definition);
  for (const { container, at, volume } of volumes) {
    if (volume.kind === 'other' && volume.source === 'not declared under volumes') {
      problems.push(`volume ${volume.volume}, mounted at ${at} by ${container}, is not declared under spec.volumes`);
    }
  }
  const moving = images.filter((image) => isMutableTag(image.tag ?? 'latest'));
  const described = [
    images.map((image) => `${image.container} ${image.name}${image.tag ? `:${image.tag}` : ''}`).join(', '),
    volumes.length > 0 &&
      `volumes: ${volumes.map(({ container, at, volume }) => `${container} ${at} on ${describeVolume(volume)}`).join(', ')}`,
    `ports: ${publishedHostPorts(definition).join(', ') || 'none published'}`,
  ];
  return {
    summary: described.filter(Boolean).join('; '),
    problems,
    movingTags: moving.map((image) => `${image.container} (${image.name}:${image.tag ?? 'latest'})`),
  };
}

/** One check per pod the checkout defines: read with a YAML parser, its images, volumes and ports named. */
export async function checkPodDefinitions(root: string, profilePodNames: readonly string[]): Promise<DoctorCheck[]> {
  const pods = await definedPods(root);
  if (pods.length === 0) {
    return [
      blocking(
        'Pod definitions',
        `no pod under ${path.join(root, 'podman', 'pods')}`,
        'point AEGIS_ROOT at the deploy checkout',
      ),
    ];
  }
  return Promise.all(
    pods.map(async (pod): Promise<DoctorCheck> => {
      const name = `Pod ${pod}`;
      const inProfile = profilePodNames.includes(pod);
      // A pod outside the profile is never redeployed: what is wrong with it does not block an upgrade.
      const problem = inProfile ? blocking : warned;
      const where = inProfile ? 'in the profile' : 'not in the profile';
      const file = podYamlPath(root, pod);
      const text = await readIfPresent(file);
      if (text === undefined) {
        return problem(name, `${where}; no ${path.relative(root, file)}`, 'restore it from the deploy repository');
      }
      let definition: PodDefinition;
      try {
        definition = parsePodDefinition(text, path.relative(root, file));
      } catch (error) {
        return problem(name, `${where}; ${(error as Error).message}`, 'fix the YAML');
      }
      const { summary, problems, movingTags } = understandPod(pod, definition);
      if (problems.length > 0) {
        return problem(
          name,
          `${where}; not understood: ${problems.join('; ')}`,
          'write the definition as the deploy repository does',
        );
      }
      if (inProfile && movingTags.length > 0) {
        return warned(
          name,
          `${where}; ${summary}; moving tags: ${movingTags.join(', ')}`,
          'a redeploy of this pod may pull other images under the same tag: pin a version tag',
        );
      }
      return passed(name, `${where}; ${summary}`);
    }),
  );
}

/**
 * The checks `doctor` makes on the deploy checkout's files alone: they need no podman, no make, no running platform,
 * so they run on any copy of a checkout (the real snapshot's, in a test) and first in pre-flight.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { isMap, isSeq, type Document } from 'yaml';
import { blocking, passed, warned, type DoctorCheck } from '../../core/doctor';
import { POD_IMAGES, isMutableTag, isPodName, podFullName } from '../../core/platform';
import { podYamlPath, profilePods } from '../deployment';
import { IMAGE_TAG_KEY, parseEnvFile } from '../env-file';
import { UPGRADE_MAKE_TARGETS, makeTargets } from '../makefile';
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

/** What the file checks read: the checkout and the profile the deployment runs. */
export interface Checkout {
  root: string;
  profile: string;
}

const readText = (file: string) =>
  fs.readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });

/** The pods the checkout defines: each directory of `podman/pods`, sorted. */
export async function definedPods(root: string): Promise<string[]> {
  const entries = await fs.readdir(path.join(root, 'podman', 'pods'), { withFileTypes: true }).catch(() => []);
  return entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
}

/** The profile's pods, or a check saying why they cannot be read. */
export async function checkProfile({ root, profile }: Checkout): Promise<{ pods: string[]; check: DoctorCheck }> {
  const name = `Profile ${profile}`;
  const conf = await readText(path.join(root, 'profiles', `${profile}.conf`));
  if (conf === undefined) {
    const profiles = await fs.readdir(path.join(root, 'profiles')).catch(() => []);
    const known = profiles.filter((file) => file.endsWith('.conf')).map((file) => file.slice(0, -'.conf'.length));
    return {
      pods: [],
      check: blocking(
        name,
        `no profiles/${profile}.conf in ${root}`,
        known.length > 0
          ? `set AEGIS_PROFILE to the profile the platform was deployed with: ${known.sort().join(', ')}`
          : `point AEGIS_ROOT at the deploy checkout (the directory holding profiles/ and podman/pods/)`,
      ),
    };
  }
  const pods = profilePods(conf);
  if (pods.length === 0) {
    return { pods, check: blocking(name, `profiles/${profile}.conf lists no pods (PODS=…)`, 'list its pods in PODS') };
  }
  const defined = await Promise.all(pods.map((pod) => readText(podYamlPath(root, pod))));
  const undefinedPods = pods.filter((_, index) => defined[index] === undefined);
  if (undefinedPods.length > 0) {
    return {
      pods,
      check: blocking(
        name,
        `pods ${pods.join(', ')}; no definition for ${undefinedPods.map((pod) => `${pod} (${path.relative(root, podYamlPath(root, pod))})`).join(', ')}`,
        '`make redeploy` finds no YAML for them: restore the files from the deploy repository, or take the pods out of the profile',
      ),
    };
  }
  return { pods, check: passed(name, `pods ${pods.join(', ')}, each with its definition`) };
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
      const text = await readText(file);
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

/** The targets an upgrade runs, present in the Makefile (read, not run). */
export async function checkMakeTargets(root: string): Promise<DoctorCheck> {
  const name = 'Make targets';
  const makefile = await readText(path.join(root, 'Makefile'));
  if (makefile === undefined) {
    return blocking(name, `no Makefile in ${root}`, 'point AEGIS_ROOT at the deploy checkout the platform is run from');
  }
  const targets = makeTargets(makefile);
  const missing = UPGRADE_MAKE_TARGETS.filter(({ target }) => !targets.has(target));
  const required = missing.filter((entry) => entry.required);
  const present = UPGRADE_MAKE_TARGETS.filter(({ target }) => targets.has(target)).map(({ target }) => target);
  const listed = (entries: typeof missing) => entries.map(({ target, use }) => `${target} (${use})`).join(', ');
  if (required.length > 0) {
    return blocking(name, `missing ${listed(required)}`, 'update the deploy checkout to a Makefile with these targets');
  }
  if (missing.length > 0) {
    return warned(
      name,
      `${present.join(', ')}; missing ${listed(missing)}`,
      'update the deploy checkout to a Makefile with these targets',
    );
  }
  return passed(name, present.join(', '));
}

/** The keys `make registry-login` reads: it refuses an empty token, and every redeploy runs it first. */
const REGISTRY_KEYS = ['GHCR_USERNAME', 'GHCR_TOKEN'] as const;
/** `.env` keys an upgrade reads, and what lacking one does. */
const EXPECTED_KEYS = [
  { key: IMAGE_TAG_KEY, why: 'the version running; unset reads as latest' },
  { key: 'POSTGRES_USER', why: 'the role of psql, dumps and restores; unset, aegis' },
  {
    key: 'POSTGRES_PASSWORD',
    why: 'the worker reaches PostgreSQL with it; unset, only trust authentication lets it in',
  },
] as const;

/** The check pre-flight leaves out: it runs `make registry-login` itself, which reads the same keys and logs in. */
export const REGISTRY_CREDENTIALS = 'Registry credentials';

const readEnvFiles = (root: string) =>
  Promise.all([readText(path.join(root, '.env')), readText(path.join(root, '.env.example'))]);

/** `.env`: there, with the keys an upgrade reads and those of `.env.example`. Values are never shown. */
export async function checkEnvFile(root: string): Promise<DoctorCheck> {
  const name = '.env';
  const [text, example] = await readEnvFiles(root);
  if (text === undefined) {
    const keys = [...REGISTRY_KEYS, ...EXPECTED_KEYS.map(({ key }) => key)].join(', ');
    return blocking(
      name,
      `no .env in ${root}: every make target sources it`,
      example === undefined
        ? `write .env with ${keys}`
        : `install -m 600 .env.example .env, then fill in ${keys} and the rest it asks for`,
    );
  }
  const values = parseEnvFile(text);
  const unset = EXPECTED_KEYS.filter(({ key }) => !values.get(key));
  const notInEnv = example === undefined ? [] : [...parseEnvFile(example).keys()].filter((key) => !values.has(key));
  const { mode } = await fs.stat(path.join(root, '.env'));
  // It holds the registry token and the database password: its owner's alone.
  const open = (mode & 0o077) !== 0;
  const notes = [
    unset.length > 0 && `unset: ${unset.map(({ key, why }) => `${key} (${why})`).join(', ')}`,
    notInEnv.length > 0 && `keys of .env.example not in .env: ${notInEnv.join(', ')}`,
    open && `readable by others than its owner (mode ${(mode & 0o777).toString(8)}), secrets and all`,
  ].filter(Boolean);
  if (notes.length > 0) {
    const fixes = [
      (unset.length > 0 || notInEnv.length > 0) && 'add the keys to .env, as .env.example describes them',
      open && 'chmod 600 .env',
    ].filter(Boolean);
    return warned(name, notes.join('; '), fixes.join('; '));
  }
  const keys = EXPECTED_KEYS.map(({ key }) => key).join(', ');
  return passed(name, `${keys} set${example === undefined ? '' : '; every key of .env.example present'}`);
}

/** GHCR_USERNAME and GHCR_TOKEN in `.env`, read, not tried: doctor logs in nowhere. */
export async function checkRegistryCredentials(root: string): Promise<DoctorCheck> {
  const [text] = await readEnvFiles(root);
  if (text === undefined) return blocking(REGISTRY_CREDENTIALS, 'no .env to read them from', 'see .env');
  const values = parseEnvFile(text);
  const empty = REGISTRY_KEYS.filter((key) => !values.get(key));
  if (empty.length > 0) {
    return blocking(
      REGISTRY_CREDENTIALS,
      `${empty.join(' and ')} empty or missing in .env: \`make registry-login\`, which every redeploy runs first, refuses them`,
      `set ${empty.join(' and ')} in .env (a token with read:packages)`,
    );
  }
  return passed(REGISTRY_CREDENTIALS, `${REGISTRY_KEYS.join(' and ')} set in .env`);
}

/** Every file check, in the order `doctor` prints them, and the profile's pods they read. */
export async function checkoutChecks(checkout: Checkout): Promise<{ pods: string[]; checks: DoctorCheck[] }> {
  const { pods, check } = await checkProfile(checkout);
  const [definitions, targets, env, credentials] = await Promise.all([
    checkPodDefinitions(checkout.root, pods),
    checkMakeTargets(checkout.root),
    checkEnvFile(checkout.root),
    checkRegistryCredentials(checkout.root),
  ]);
  return { pods, checks: [check, ...definitions, targets, env, credentials] };
}

/**
 * The checks `doctor` makes on the deploy checkout's files alone: they need no podman, no make, no running platform,
 * so they run on any copy of a checkout (the real snapshot's, in a test) and first in pre-flight.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { blocking, passed, warned, type DoctorCheck } from '../../core/doctor';
import { podYamlPath, profilePods } from '../deployment';
import { UPGRADE_MAKE_TARGETS, makeTargets } from '../makefile';
import { checkEnvFile, checkRegistryCredentials } from './env';
import { readIfPresent } from './files';
import { checkPodDefinitions } from './pods';

export { REGISTRY_CREDENTIALS, checkEnvFile, checkRegistryCredentials } from './env';
export { checkPodDefinitions, definedPods, understandPod } from './pods';

/** What the file checks read: the checkout and the profile the deployment runs. */
export interface Checkout {
  root: string;
  profile: string;
}

/** The profile's pods, or a check saying why they cannot be read. */
export async function checkProfile({ root, profile }: Checkout): Promise<{ pods: string[]; check: DoctorCheck }> {
  const name = `Profile ${profile}`;
  const conf = await readIfPresent(path.join(root, 'profiles', `${profile}.conf`));
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
  const defined = await Promise.all(pods.map((pod) => readIfPresent(podYamlPath(root, pod))));
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

/** The targets an upgrade runs, present in the Makefile (read, not run). */
export async function checkMakeTargets(root: string): Promise<DoctorCheck> {
  const name = 'Make targets';
  const makefile = await readIfPresent(path.join(root, 'Makefile'));
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

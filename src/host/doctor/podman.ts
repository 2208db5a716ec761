/** Podman as the platform's user sees it: rootless or rootful, whose pods, which of them run, its registry login. */
import fs from 'node:fs/promises';
import os from 'node:os';
import { blocking, passed, warned, type DoctorCheck } from '../../core/doctor';
import { podFullName } from '../../core/platform';
import { LOOK_TIMEOUT_MS, guarded, type LiveContext } from './context';

/** A user's name from `/etc/passwd`, or `uid N` when it has none there. */
export async function userName(uid: number): Promise<string> {
  const passwd = await fs.readFile('/etc/passwd', 'utf8').catch(() => '');
  const entry = passwd
    .split('\n')
    .map((line) => line.split(':'))
    .find((fields) => fields[2] === String(uid));
  return entry?.[0] || `uid ${uid}`;
}

/** Who runs this, and who owns the checkout: podman's pods are those of the user who runs it. */
export interface PodmanMode {
  /** From `podman info`; unknown when podman was not asked. */
  rootless?: boolean;
  user: { name: string; uid: number };
  owner: { name: string; uid: number };
}

export function podmanModeCheck({ rootless, user, owner }: PodmanMode): DoctorCheck {
  const name = 'Podman';
  const mode =
    rootless === undefined
      ? `running as ${user.name} (uid ${user.uid})`
      : rootless
        ? `rootless podman as ${user.name} (uid ${user.uid})`
        : `rootful podman as ${user.name}`;
  if (user.uid !== owner.uid) {
    return blocking(
      name,
      `${mode}, but the checkout belongs to ${owner.name} (uid ${owner.uid}): the platform's pods are ${owner.name}'s, and this podman sees none of them`,
      `run it as the platform's user: sudo -iu ${owner.name} aegis-upgrade doctor (the worker too: User=${owner.name})`,
    );
  }
  return passed(name, `${mode}, who owns the checkout and the pods`);
}

/** The user running this and the checkout's owner. */
async function users(root: string): Promise<Pick<PodmanMode, 'user' | 'owner'>> {
  const { uid } = await fs.stat(root);
  const self = os.userInfo();
  return { user: { name: self.username, uid: self.uid }, owner: { name: await userName(uid), uid } };
}

/** Pre-flight's part of the check: the worker runs as the checkout's owner, asked of the files, not of podman. */
export async function checkRunsAsOwner(root: string): Promise<DoctorCheck> {
  return podmanModeCheck(await users(root));
}

export async function checkPodmanMode({ deployment }: LiveContext): Promise<DoctorCheck> {
  return guarded(
    'Podman',
    "install podman; as the platform's user, XDG_RUNTIME_DIR=/run/user/$(id -u) must exist (loginctl enable-linger <user>)",
    async () => {
      const { stdout } = await deployment.podman(['info', '--format', 'json'], { timeoutMs: LOOK_TIMEOUT_MS });
      const info = JSON.parse(stdout) as { host?: { security?: { rootless?: boolean } } };
      return podmanModeCheck({ rootless: info.host?.security?.rootless === true, ...(await users(deployment.root)) });
    },
  );
}

/** `podman pod ps --format json`: a pod's name and status (`Running`, `Degraded`, `Exited`, …). */
interface ListedPod {
  Name?: string;
  Status?: string;
}

export function podsRunningCheck(profile: string, pods: readonly string[], listed: readonly ListedPod[]): DoctorCheck {
  const name = 'Pods running';
  const status = new Map(listed.map((pod) => [pod.Name ?? '', pod.Status ?? '']));
  const down = pods.filter((pod) => status.get(podFullName(pod)) !== 'Running');
  const extra = [...status.keys()].filter(
    (pod) => pod.startsWith('aegis-') && !pods.some((inProfile) => podFullName(inProfile) === pod),
  );
  if (down.length > 0) {
    const states = down.map((pod) => `${podFullName(pod)} ${status.get(podFullName(pod)) ?? 'absent'}`);
    return blocking(
      name,
      `${states.join(', ')} (profile ${profile}: ${pods.join(', ')})`,
      down.length === pods.length
        ? `the platform is not deployed for this user: make deploy PROFILE=${profile}, or run doctor as the user whose pods they are, with the profile deployed (AEGIS_PROFILE)`
        : `bring each back first: ${down.map((pod) => `make redeploy POD=${pod}`).join('; ')}`,
    );
  }
  if (extra.length > 0) {
    return warned(
      name,
      `profile ${profile}'s pods run; so do ${extra.join(', ')}, which it does not list`,
      'is AEGIS_PROFILE the profile the platform was deployed with? An upgrade leaves pods outside it as they are',
    );
  }
  return passed(name, `profile ${profile}'s pods all run: ${pods.map(podFullName).join(', ')}`);
}

export async function checkPodsRunning({ deployment, pods }: LiveContext): Promise<DoctorCheck> {
  return guarded('Pods running', 'run doctor where podman answers (see the Podman check)', async () => {
    const { stdout } = await deployment.podman(['pod', 'ps', '--format', 'json'], { timeoutMs: LOOK_TIMEOUT_MS });
    return podsRunningCheck(deployment.config.aegis.profile, pods, JSON.parse(stdout || '[]') as ListedPod[]);
  });
}

/**
 * Whether podman holds a login for the registry the images come from, read without logging in (doctor changes
 * nothing). Not logged in does not block: pre-flight and every redeploy log in first, with `.env`'s GHCR_TOKEN.
 */
export async function checkRegistryLogin({ deployment }: LiveContext): Promise<DoctorCheck> {
  const name = 'Registry login';
  const host = deployment.config.aegis.registry.split('/', 1)[0] ?? '';
  try {
    const { stdout } = await deployment.podman(['login', '--get-login', host], { timeoutMs: LOOK_TIMEOUT_MS });
    return passed(name, `podman is logged in to ${host} as ${stdout.trim()}`);
  } catch {
    return warned(
      name,
      `podman holds no login for ${host}`,
      'make registry-login (pre-flight and every redeploy run it, with GHCR_USERNAME and GHCR_TOKEN of .env): if it fails, renew the token',
    );
  }
}

import { execa } from 'execa';
import path from 'node:path';
import { REPO_ROOT } from './repo';

/** Where the tests' podman runs as the platform's user (test/helpers/lane-setup.ts puts it first on their PATH). */
export const AS_PLATFORM_USER = path.join(REPO_ROOT, 'test', 'helpers', 'as-platform-user');

/** PATH without the tests' way to the platform user's podman: the podman after it is root's (or the caller's) own. */
export function pathWithoutPlatformPodman(pathVariable = process.env.PATH ?? ''): string {
  return pathVariable
    .split(':')
    .filter((entry) => entry !== AS_PLATFORM_USER)
    .join(':');
}

/** Root's environment for its own podman: no way to the platform user's podman. */
function rootEnvironment(): Record<string, string> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
  return { ...env, PATH: pathWithoutPlatformPodman() };
}

/** The AEGIS pods podman lists as the platform's user, or as root: the platform is rootless, so root's list is empty. */
export async function aegisPodsListed(as: 'root' | 'the platform user'): Promise<string[]> {
  const args = ['pod', 'ps', '--filter', 'name=^aegis-', '--format', '{{.Name}}'];
  const { stdout } =
    as === 'root'
      ? await execa('podman', args, { env: rootEnvironment(), extendEnv: false })
      : await execa(path.join(AS_PLATFORM_USER, 'podman'), args);
  return stdout.split('\n').filter(Boolean).sort();
}

import { execa } from 'execa';
import path from 'node:path';
import type { PodmanHost } from './platform';
import { MissingDependency, REPO_ROOT } from './repo';
import { exportedVariables } from './sandbox';

const DEPLOYMENTS = path.join(REPO_ROOT, 'sandbox', 'deployments.sh');

/** `sandbox/deployments.sh up|reset|down NAME...`: its progress (stderr) is shown when it fails. */
export async function deployments(command: 'up' | 'reset' | 'down', names: readonly string[]): Promise<void> {
  const result = await execa('bash', [DEPLOYMENTS, command, ...names], { reject: false, all: true });
  if (result.failed) {
    throw new MissingDependency(
      `\`bash sandbox/deployments.sh ${command} ${names.join(' ')}\` failed (exit ${result.exitCode}):\n${result.all}`,
      'Run `npm run bootstrap` (installs podman, the registry, PostgreSQL), then `bash sandbox/deployments.sh up NAME...`',
    );
  }
}

/** One of the sandbox's deployments, each as if on its own host, as its worker and a test see it. */
export interface SandboxDeployment {
  name: string;
  /** What `deployments.sh env NAME` prints: its checkout, ports, podman and AEGIS_ENVIRONMENT, for its worker. */
  env: Record<string, string>;
  /** Its deploy checkout (AEGIS_ROOT). */
  root: string;
  /** Its podman (its own platform user's, rootless), for the test's own podman commands. */
  host: PodmanHost;
}

export async function sandboxDeployment(name: string): Promise<SandboxDeployment> {
  const { stdout } = await execa('bash', [DEPLOYMENTS, 'env', name]);
  const env = exportedVariables(stdout);
  return {
    name,
    env,
    root: env.AEGIS_ROOT ?? '',
    host: { AEGIS_PLATFORM_USER: env.AEGIS_PLATFORM_USER ?? '' },
  };
}

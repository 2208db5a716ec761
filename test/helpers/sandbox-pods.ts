import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { parsePodDefinition, type PodDefinition } from '../../src/host/pod-definitions';
import { REPO_ROOT } from './repo';

export const SANDBOX_PODS = path.join(REPO_ROOT, 'sandbox', 'deploy', 'podman', 'pods');

/** What `sandbox.sh` fills into the sandbox's pod templates (`@NAME@`) when it installs them. */
const SANDBOX_VALUES: Record<string, string> = {
  REGISTRY_HOST: '127.0.0.1:5000',
  REGISTRY: '127.0.0.1:5000/100monkeys-ai',
  PGDATA_DIR: '/srv/sandbox/pgdata',
  POSTGRES_PORT: '15432',
  RUNTIME_PORT: '18088',
  SEAL_GATEWAY_PORT: '18089',
  TEMPORAL_GRPC_PORT: '17233',
  TEMPORAL_UI_PORT: '18233',
  PROMETHEUS_PORT: '19090',
};

const filledIn = (template: string) =>
  template.replace(/@([A-Z_]+)@/g, (placeholder, name: string) => SANDBOX_VALUES[name] ?? placeholder);

/** A sandbox pod's YAML as `sandbox.sh` installs it in the sandbox's deploy checkout. */
export async function sandboxPodText(pod: string): Promise<string> {
  return filledIn(await fs.readFile(path.join(SANDBOX_PODS, pod, `pod-${pod}.yaml`), 'utf8'));
}

/** The sandbox's pod definitions installed in a deploy checkout at `root`, each one it does not have yet, owner-only. */
export function installSandboxPods(root: string): void {
  for (const pod of readdirSync(SANDBOX_PODS)) {
    const file = path.join(root, 'podman', 'pods', pod, `pod-${pod}.yaml`);
    if (existsSync(file)) continue;
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, filledIn(readFileSync(path.join(SANDBOX_PODS, pod, `pod-${pod}.yaml`), 'utf8')), {
      mode: 0o600,
    });
  }
}

export async function sandboxPodDefinition(pod: string): Promise<PodDefinition> {
  return parsePodDefinition(await sandboxPodText(pod), `pod-${pod}.yaml`);
}

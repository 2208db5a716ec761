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

/** A sandbox pod's YAML as `sandbox.sh` installs it in the sandbox's deploy checkout. */
export async function sandboxPodText(pod: string): Promise<string> {
  const template = await fs.readFile(path.join(SANDBOX_PODS, pod, `pod-${pod}.yaml`), 'utf8');
  return template.replace(/@([A-Z_]+)@/g, (placeholder, name: string) => SANDBOX_VALUES[name] ?? placeholder);
}

export async function sandboxPodDefinition(pod: string): Promise<PodDefinition> {
  return parsePodDefinition(await sandboxPodText(pod), `pod-${pod}.yaml`);
}

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
  CONTAINER_SOCK: '/srv/sandbox/podman-api.sock',
  PODMAN_LOG_ROOT: '/home/aegis/.local/share/containers/storage/overlay-containers',
  POSTGRES_PORT: '15432',
  RUNTIME_PORT: '18088',
  SEAL_GATEWAY_PORT: '18089',
  TEMPORAL_GRPC_PORT: '17233',
  TEMPORAL_UI_PORT: '18233',
  PROMETHEUS_PORT: '19090',
  REGISTRY_PORT: '5000',
  BASELINE: '1.2.0',
  GHCR_TOKEN: 'sandbox-token',
  POSTGRES_PASSWORD: 'sandbox-password',
};

/** A template of sandbox/deploy with its `@NAME@` placeholders filled as `sandbox.sh` fills them. */
function renderTemplate(template: string, root = '/srv/sandbox/deploy'): string {
  const values: Record<string, string> = { ...SANDBOX_VALUES, AEGIS_ROOT: root };
  return template.replace(/@([A-Z_]+)@/g, (placeholder, name: string) => values[name] ?? placeholder);
}

/**
 * The sandbox's deploy checkout written into `root` as `sandbox.sh` writes it (sandbox/lib/checkout.sh): every file
 * of sandbox/deploy rendered, `env.template` as `.env`. No sandbox is run.
 */
export async function writeSandboxCheckout(root: string): Promise<void> {
  const source = path.join(REPO_ROOT, 'sandbox', 'deploy');
  const files = (await fs.readdir(source, { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile());
  for (const file of files) {
    const from = path.join(file.parentPath, file.name);
    const relative = path.relative(source, from);
    const to = path.join(root, relative === 'env.template' ? '.env' : relative);
    await fs.mkdir(path.dirname(to), { recursive: true });
    await fs.writeFile(to, renderTemplate(await fs.readFile(from, 'utf8'), root));
  }
}

/** A sandbox pod's YAML as `sandbox.sh` installs it in the sandbox's deploy checkout. */
export async function sandboxPodText(pod: string): Promise<string> {
  return renderTemplate(await fs.readFile(path.join(SANDBOX_PODS, pod, `pod-${pod}.yaml`), 'utf8'));
}

/** The sandbox's pod definitions installed in a deploy checkout at `root`, each one it does not have yet, owner-only. */
export function installSandboxPods(root: string): void {
  for (const pod of readdirSync(SANDBOX_PODS)) {
    const file = path.join(root, 'podman', 'pods', pod, `pod-${pod}.yaml`);
    if (existsSync(file)) continue;
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, renderTemplate(readFileSync(path.join(SANDBOX_PODS, pod, `pod-${pod}.yaml`), 'utf8')), {
      mode: 0o600,
    });
  }
}

export async function sandboxPodDefinition(pod: string): Promise<PodDefinition> {
  return parsePodDefinition(await sandboxPodText(pod), `pod-${pod}.yaml`);
}

/** Where PostgreSQL's data lay in the sandbox before it took the real checkout's named volume: a host directory. */
export const HOST_DIRECTORY_PGDATA = '/srv/sandbox/pgdata';

/**
 * The sandbox's database pod as checkouts that keep PostgreSQL's data in a host directory (`hostPath`) have it: the
 * storage the worker also supports, beside the real checkout's named volume.
 */
export async function hostDirectoryDatabasePodText(): Promise<string> {
  const text = await sandboxPodText('database');
  const claim = '      persistentVolumeClaim:\n        claimName: aegis-postgres-data\n';
  if (!text.includes(claim)) throw new Error("the sandbox's database pod keeps no claim aegis-postgres-data");
  return text.replace(
    claim,
    `      hostPath:\n        path: ${HOST_DIRECTORY_PGDATA}\n        type: DirectoryOrCreate\n`,
  );
}

export async function hostDirectoryDatabasePod(): Promise<PodDefinition> {
  return parsePodDefinition(await hostDirectoryDatabasePodText(), 'pod-database.yaml');
}

import { OPENBAO_CONTAINER, RUNTIME_CONTAINER } from '../core/platform';
import { PodNotReady } from '../core/errors';
import type { Deployment } from './deployment';

/** The AppRole credentials `.env` gives the runtime (pod core's environment) to read its secrets from OpenBao with. */
export const APPROLE_KEYS = ['OPENBAO_ROLE_ID', 'OPENBAO_SECRET_ID'] as const;

interface SealStatus {
  initialized?: boolean;
  sealed?: boolean;
}

/** What `bao status -format=json` says in OpenBao's container (it exits 2 when sealed: its answer is read anyway). */
async function sealStatus(deployment: Deployment): Promise<SealStatus> {
  const { stdout } = await deployment.podman(['exec', OPENBAO_CONTAINER, 'sh', '-c', 'bao status -format=json; true']);
  try {
    return JSON.parse(stdout) as SealStatus;
  } catch {
    throw new PodNotReady(
      `OpenBao (${OPENBAO_CONTAINER}) does not say its seal status: ${stdout.trim().slice(0, 200)}`,
    );
  }
}

/** The values of the AppRole keys in a container's environment. */
async function containerCredentials(deployment: Deployment, container: string): Promise<Map<string, string>> {
  const { stdout } = await deployment.podman(['container', 'inspect', '--format', '{{json .Config.Env}}', container]);
  const entries = (JSON.parse(stdout) as string[]).map((entry) => {
    const at = entry.indexOf('=');
    return [entry.slice(0, at), entry.slice(at + 1)] as const;
  });
  return new Map(entries.filter(([key]) => (APPROLE_KEYS as readonly string[]).includes(key)));
}

/**
 * After the full path (`make teardown`, `make deploy`, `make bootstrap-secrets`): OpenBao unsealed, and the runtime
 * holding the AppRole credentials `.env` names now. `make deploy` restarts OpenBao, which comes back sealed, and starts
 * the runtime before the bootstrap unseals it; when the stored credentials stopped working, the bootstrap writes new
 * ones into `.env`, which a runtime already started does not see: it is redeployed (`make redeploy POD=core`). Nothing
 * when the profile runs no OpenBao. Returns what it found and did, for the step's detail; never a credential.
 */
export async function secretsAfterDeploy(deployment: Deployment, profilePods: readonly string[]): Promise<string> {
  if (!profilePods.includes('secrets')) return '';
  const status = await sealStatus(deployment);
  if (status.initialized !== true || status.sealed !== false) {
    throw new PodNotReady(
      `OpenBao (${OPENBAO_CONTAINER}) is ${status.initialized === true ? 'sealed' : 'not initialised'} after ` +
        '`make bootstrap-secrets`: the runtime cannot read its secrets; run `make bootstrap-secrets` and see its output',
    );
  }
  const env = await deployment.env();
  const running = await containerCredentials(deployment, RUNTIME_CONTAINER);
  const stale = APPROLE_KEYS.filter((key) => (env.get(key) ?? '') !== (running.get(key) ?? ''));
  if (stale.length === 0) return "OpenBao unsealed; the runtime holds .env's AppRole credentials";
  await deployment.make('redeploy', { POD: 'core' });
  return (
    `OpenBao unsealed; the runtime redeployed: it had started before make bootstrap-secrets wrote ${stale.join(', ')} ` +
    'into .env'
  );
}

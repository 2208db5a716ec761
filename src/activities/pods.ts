import { DATABASE_CONTAINER, POD_IMAGES, podFullName, type PodName } from '../core/platform';
import { deployedPods, type Deployment } from '../host/deployment';
import { secretsAfterDeploy } from '../host/secrets';
import { databaseRole } from '../host/env-file';
import { PodNotReady } from '../core/errors';
import { heartbeatWhile, pause } from '../host/heartbeat';
import { imageRef } from './images';

const POLL_INTERVAL_MS = 200;
/** How long a pod's containers get to shut down cleanly before a redeploy replaces them (podman's default is 10 s). */
const POD_STOP_GRACE_SECONDS = 30;

interface PodState {
  created: string;
  containers: { name: string; state: string; image: string }[];
}

export interface RedeployResult {
  /** When the redeploy began: the runtime's log is read from here. */
  startedAt: string;
  /** The pod already ran the target since this step began: nothing was done again. */
  skipped: boolean;
}

/** Judges one look at a pod: ready, or the reason it is not (yet). */
export function podProblem(state: PodState | undefined, expectedImage: string | undefined): string | undefined {
  if (!state) return 'pod does not exist';
  const notRunning = state.containers.filter((container) => container.state !== 'running');
  if (notRunning.length > 0) return notRunning.map((container) => `${container.name} is ${container.state}`).join(', ');
  if (expectedImage && !state.containers.some((container) => container.image === expectedImage)) {
    return `no container runs ${expectedImage}`;
  }
  return undefined;
}

/**
 * How a pod is looked at: its containers and their images, and its own health check. The upgrade's readiness waits
 * and pre-flight's look at the platform both use these; any pod of the profile, not only those the upgrade redeploys.
 */
export function createPodProbes(deployment: Deployment) {
  const { runtimeUrl, sealGatewayUrl } = deployment.config.aegis;

  async function inspectPod(pod: string): Promise<PodState | undefined> {
    try {
      const { stdout } = await deployment.podman(['pod', 'inspect', podFullName(pod)]);
      const parsed = JSON.parse(stdout) as { Created: string; Containers?: { Name: string; State: string }[] };
      const pods = Array.isArray(parsed) ? (parsed as (typeof parsed)[]) : [parsed];
      const first = pods[0];
      if (!first) return undefined;
      const running = (first.Containers ?? []).filter((container) => !container.Name.endsWith('-infra'));
      // The images of all its containers in one call: every podman call costs a readiness poll 0.1 s or more.
      const images = new Map<string, string>();
      if (running.length > 0) {
        const { stdout: lines } = await deployment.podman([
          'container',
          'inspect',
          '--format',
          '{{.Name}} {{.ImageName}}',
          ...running.map((container) => container.Name),
        ]);
        for (const line of lines.split('\n').filter(Boolean)) {
          images.set(line.slice(0, line.indexOf(' ')), line.slice(line.indexOf(' ') + 1));
        }
      }
      const containers = running.map((container) => ({
        name: container.Name,
        state: container.State,
        image: images.get(container.Name) ?? '',
      }));
      return { created: first.Created, containers };
    } catch {
      return undefined;
    }
  }

  /** The pod's own health check, judged by what it answers, not by its status code. */
  async function healthProblem(pod: string): Promise<string | undefined> {
    switch (pod) {
      case 'database':
        return deployment
          .podman(['exec', DATABASE_CONTAINER, 'pg_isready', '-U', databaseRole(await deployment.env())])
          .then(() => undefined)
          .catch(() => 'PostgreSQL does not accept connections yet');
      case 'core':
        return httpHealthProblem(`${runtimeUrl}/health`);
      case 'seal-gateway':
        return httpHealthProblem(`${sealGatewayUrl}/health`);
      default:
        return undefined;
    }
  }

  return { inspectPod, healthProblem };
}

export function createPodActivities(deployment: Deployment) {
  const { registry, readyTimeoutSeconds } = deployment.config.aegis;
  const { inspectPod, healthProblem } = createPodProbes(deployment);

  const targetImage = (pod: PodName, tag: string) => {
    const entry = POD_IMAGES[pod];
    return entry && imageRef(registry, entry.image, tag);
  };

  return {
    /**
     * `make redeploy POD=<pod>`; skipped when the pod already runs the target since `notBefore` (a retry after a crash).
     * The running pod is stopped cleanly first, after the registry login that `make redeploy` runs anyway: `play kube
     * --replace` removes a running pod slowly (podman 4.3 spends seconds in `pod rm -f`, the pod down all along) and
     * kills PostgreSQL without a clean shutdown, while a stopped pod is replaced in a fraction of a second. Logging in
     * before the stop means a registry that refuses us never leaves a pod stopped.
     */
    async redeployPod({
      pod,
      tag,
      notBefore,
    }: {
      pod: PodName;
      tag: string;
      notBefore: string;
    }): Promise<RedeployResult> {
      // The login changes nothing on the platform: it runs beside the look that may find the redeploy done (then its
      // failure does not matter).
      const [state, loginFailure] = await Promise.all([
        inspectPod(pod),
        deployment.make('registry-login').then(
          () => undefined,
          (error: unknown) => error,
        ),
      ]);
      if (state && Date.parse(state.created) >= Date.parse(notBefore) && !podProblem(state, targetImage(pod, tag))) {
        return { startedAt: state.created, skipped: true };
      }
      if (loginFailure) throw loginFailure;
      const startedAt = new Date().toISOString();
      await heartbeatWhile(
        (async () => {
          await deployment.podman(['pod', 'stop', '--ignore', '-t', String(POD_STOP_GRACE_SECONDS), podFullName(pod)]);
          await deployment.make('redeploy', { POD: pod });
        })(),
        `make redeploy POD=${pod}`,
      );
      return { startedAt, skipped: false };
    },

    /** Waits, bounded, until every container of the pod runs the target image and its health check passes. */
    async awaitPodReady({ pod, tag }: { pod: PodName; tag: string }): Promise<string> {
      const deadline = Date.now() + readyTimeoutSeconds * 1000;
      for (;;) {
        const problem = podProblem(await inspectPod(pod), targetImage(pod, tag)) ?? (await healthProblem(pod));
        if (!problem) return `${podFullName(pod)} ready`;
        if (Date.now() > deadline) {
          throw new PodNotReady(`${podFullName(pod)} not ready after ${readyTimeoutSeconds} s: ${problem}`);
        }
        await pause(POLL_INTERVAL_MS, problem);
      }
    },

    /**
     * The guide's full path: teardown, deploy the profile, bootstrap secrets; then OpenBao unsealed and the runtime on
     * `.env`'s AppRole credentials (secretsAfterDeploy). Returns what it found of the secrets.
     */
    async redeployPlatform(): Promise<string> {
      const profile = deployment.config.aegis.profile;
      return heartbeatWhile(
        (async () => {
          await deployment.make('teardown', { PROFILE: profile });
          await deployment.make('deploy', { PROFILE: profile });
          await deployment.make('bootstrap-secrets', { PROFILE: profile });
          return secretsAfterDeploy(deployment, await deployedPods(deployment));
        })(),
        `full redeploy of profile ${profile}`,
      );
    },
  };
}

async function httpHealthProblem(url: string): Promise<string | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    const body = (await response.json()) as { status?: string };
    return body.status === 'healthy' ? undefined : `${url} says ${JSON.stringify(body.status)}`;
  } catch (error) {
    return `${url} does not answer: ${(error as Error).message}`;
  }
}

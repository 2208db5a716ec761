import { firstLine } from '../core/doctor';
import { RUNTIME_CONTAINER } from '../core/platform';
import { deployedPods, type Deployment } from '../host/deployment';
import { ValidationFailed } from '../core/errors';
import { heartbeatWhile, pause } from '../host/heartbeat';
import { stripAnsi } from '../host/output';
import { publishedHostPorts, readPodDefinition } from '../host/pod-definitions';

/** `make validate` probes these over HTTP though they do not speak it: their ✗ is expected (docs/platform.md). */
export const KNOWN_NOISE = ['PostgreSQL', 'Temporal Server'];

export interface ValidateLine {
  ok: boolean;
  service: string;
  detail: string;
}

/** Reads `make validate`'s ✓/✗ lines; its exit code is always 0 and proves nothing. */
export function parseValidateOutput(output: string): ValidateLine[] {
  const lines: ValidateLine[] = [];
  for (const raw of stripAnsi(output).split('\n')) {
    const match = /^\s*([✓✗])\s+(.+?)\s*(?:\((.*)\))?\s*$/.exec(raw);
    if (match?.[1] && match[2]) lines.push({ ok: match[1] === '✓', service: match[2], detail: match[3] ?? '' });
  }
  return lines;
}

/**
 * The ✗ lines that count: not the known noise, and not a service of a pod the profile does not run. `make validate`
 * probes every service the platform can have (Keycloak, SeaweedFS …), whatever the profile deploys (docs/platform.md);
 * `deployedPorts`, the host ports the profile's pods publish, tell them apart by the port a line probed.
 */
export function validationFailures(
  lines: readonly ValidateLine[],
  deployedPorts?: ReadonlySet<number>,
): ValidateLine[] {
  return lines.filter((line) => !line.ok && !KNOWN_NOISE.includes(line.service) && !notDeployed(line, deployedPorts));
}

/** The ✗ lines of services no pod of the profile publishes: not judged. */
export function servicesNotDeployed(lines: readonly ValidateLine[], deployedPorts?: ReadonlySet<number>): string[] {
  return lines
    .filter((line) => !line.ok && !KNOWN_NOISE.includes(line.service) && notDeployed(line, deployedPorts))
    .map((line) => line.service);
}

function notDeployed(line: ValidateLine, deployedPorts: ReadonlySet<number> | undefined): boolean {
  const port = probedPort(line.detail);
  return deployedPorts !== undefined && port !== undefined && !deployedPorts.has(port);
}

/** The port a ✗ line probed: `localhost:5432`, `http://localhost:8180/health/ready`; undefined when it names none. */
export function probedPort(detail: string): number | undefined {
  let url: URL;
  try {
    url = new URL(detail.includes('://') ? detail : `http://${detail}`);
  } catch {
    return undefined;
  }
  const port = Number(url.port || { 'http:': 80, 'https:': 443 }[url.protocol]);
  return Number.isInteger(port) && port > 0 ? port : undefined;
}

/**
 * The host ports the pods of the deployment's profile publish, read from their definitions; undefined when they
 * publish none, so that every line is judged rather than none.
 */
export async function deployedHostPorts(deployment: Deployment): Promise<Set<number> | undefined> {
  const pods = await deployedPods(deployment);
  const definitions = await Promise.all(pods.map((pod) => readPodDefinition(deployment.root, pod)));
  const ports = new Set(definitions.flatMap(publishedHostPorts));
  return ports.size > 0 ? ports : undefined;
}

export interface Readiness {
  status?: string;
  dependencies?: Record<string, boolean>;
}

const POLL_INTERVAL_MS = 3_000;

/** What one look at the platform found: every problem, and the number of ✓ lines of `make validate`. */
export interface PlatformLook {
  problems: string[];
  servicesUp: number;
  /** The ✗ lines of services the profile does not deploy, not judged. */
  notDeployed: string[];
}

/**
 * One look at the platform as the upgrade's last step judges it: `make validate` (every line ✓ but the known noise)
 * and the runtime's `/health/ready` body saying `ready`. Pre-flight takes the same look before anything changes.
 */
export function createPlatformProbe(deployment: Deployment) {
  const { runtimeUrl } = deployment.config.aegis;

  async function readiness(): Promise<Readiness | string> {
    try {
      const response = await fetch(`${runtimeUrl}/health/ready`, { signal: AbortSignal.timeout(5_000) });
      return (await response.json()) as Readiness;
    } catch (error) {
      return `${runtimeUrl}/health/ready does not answer: ${(error as Error).message}; ${await runtimeContainer()}`;
    }
  }

  /** Why the runtime may not answer: its container's state, and its last line (an exit says why in it). */
  async function runtimeContainer(): Promise<string> {
    try {
      const { stdout } = await deployment.podman([
        'inspect',
        '--format',
        '{{.State.Status}} (exit code {{.State.ExitCode}}, started {{.State.StartedAt}})',
        RUNTIME_CONTAINER,
      ]);
      const logs = await deployment.podman(['logs', '--tail', '1', RUNTIME_CONTAINER]);
      const last = stripAnsi(`${logs.stdout}\n${logs.stderr}`).trim().split('\n').at(-1) ?? '';
      return `${RUNTIME_CONTAINER} ${stdout.trim()}${last ? `, its last line: ${last}` : ''}`;
    } catch (error) {
      return `${RUNTIME_CONTAINER} cannot be inspected: ${firstLine(error)}`;
    }
  }

  return {
    async lookAtPlatform(): Promise<PlatformLook> {
      // Its curls take up to 5 s each: heartbeats keep the activity alive under a short heartbeat timeout.
      const validated = await heartbeatWhile(deployment.make('validate'), 'make validate');
      const lines = parseValidateOutput(validated.stdout);
      const deployedPorts = await deployedHostPorts(deployment);
      const failures = validationFailures(lines, deployedPorts);
      const ready = await readiness();
      const problems = [
        ...(lines.length === 0 ? ['make validate printed no ✓/✗ line'] : []),
        ...failures.map((line) => `✗ ${line.service}${line.detail ? ` (${line.detail})` : ''}`),
        ...(typeof ready === 'string'
          ? [ready]
          : ready.status === 'ready'
            ? []
            : [`runtime /health/ready is ${ready.status ?? 'unknown'}: ${JSON.stringify(ready.dependencies ?? {})}`]),
      ];
      return {
        problems,
        servicesUp: lines.filter((line) => line.ok).length,
        notDeployed: servicesNotDeployed(lines, deployedPorts),
      };
    },
  };
}

export function createValidationActivities(deployment: Deployment) {
  const { readyTimeoutSeconds } = deployment.config.aegis;
  const { lookAtPlatform } = createPlatformProbe(deployment);

  return {
    /** The platform's look, waited for until it finds no problem, bounded: a just-restarted platform may need a few seconds. */
    async validatePlatform(): Promise<string> {
      const deadline = Date.now() + readyTimeoutSeconds * 1000;
      for (;;) {
        const { problems, servicesUp, notDeployed } = await lookAtPlatform();
        if (problems.length === 0) {
          const absent = notDeployed.length > 0 ? `; not in the profile: ${notDeployed.join(', ')}` : '';
          return `${servicesUp} services ✓ (noise ignored: ${KNOWN_NOISE.join(', ')}${absent}); runtime ready`;
        }
        if (Date.now() > deadline) throw new ValidationFailed(`Validation failed: ${problems.join('; ')}`);
        await pause(POLL_INTERVAL_MS, problems.join('; '));
      }
    },
  };
}

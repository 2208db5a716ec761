import type { Deployment } from './deployment';
import { ValidationFailed } from './errors';
import { pause } from './heartbeat';
import { stripAnsi } from './output';

/** `make validate` probes these over HTTP though they do not speak it: their ✗ is expected (FACTS.md). */
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

export function validationFailures(lines: readonly ValidateLine[]): ValidateLine[] {
  return lines.filter((line) => !line.ok && !KNOWN_NOISE.includes(line.service));
}

export interface Readiness {
  status?: string;
  dependencies?: Record<string, boolean>;
}

const POLL_INTERVAL_MS = 3_000;

export function createValidationActivities(deployment: Deployment) {
  const { runtimeUrl, readyTimeoutSeconds } = deployment.config.aegis;

  async function readiness(): Promise<Readiness | string> {
    try {
      const response = await fetch(`${runtimeUrl}/health/ready`, { signal: AbortSignal.timeout(5_000) });
      return (await response.json()) as Readiness;
    } catch (error) {
      return `${runtimeUrl}/health/ready does not answer: ${(error as Error).message}`;
    }
  }

  return {
    /**
     * `make validate` (every line ✓ but the known noise) and the runtime's `/health/ready` body saying `ready`,
     * waited for, bounded: a just-restarted platform may need a few seconds.
     */
    async validatePlatform(): Promise<string> {
      const deadline = Date.now() + readyTimeoutSeconds * 1000;
      for (;;) {
        const lines = parseValidateOutput((await deployment.make('validate')).stdout);
        const failures = validationFailures(lines);
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
        if (problems.length === 0) {
          return `${lines.length - failures.length} services ✓ (noise ignored: ${KNOWN_NOISE.join(', ')}); runtime ready`;
        }
        if (Date.now() > deadline) throw new ValidationFailed(`Validation failed: ${problems.join('; ')}`);
        await pause(POLL_INTERVAL_MS, problems.join('; '));
      }
    },
  };
}

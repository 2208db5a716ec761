import { Client } from 'pg';

/** One AEGIS service as an operator's monitoring sees it: answered or not, judged every 100 ms. */
export interface ProbedService {
  /** The pod that serves it. */
  pod: string;
  probe(): Promise<boolean>;
}

/** When a service did not answer: from its first failed sample to the next answered one. */
export interface Outage {
  from: number;
  to: number;
}

export const PROBE_INTERVAL_MS = 100;
const PROBE_TIMEOUT_MS = 1_000;

/** A probe that does not answer within the timeout counts as down, whatever it is waiting for. */
async function withinProbeTimeout(probe: () => Promise<boolean>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), PROBE_TIMEOUT_MS)));
  try {
    return await Promise.race([probe().catch(() => false), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

async function answers(url: string, judge: (body: string) => boolean = () => true): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    return response.ok && judge(await response.text());
  } catch {
    return false;
  }
}

/** The sandbox's services by their health endpoints (the same ports `make validate` probes). */
export function sandboxServices(ports: Record<string, string>, postgres: { user: string; password: string }) {
  const port = (name: string) => ports[`AEGIS_SANDBOX_${name}_PORT`];
  const services: ProbedService[] = [
    {
      pod: 'database',
      probe: () =>
        withinProbeTimeout(async () => {
          const client = new Client({
            host: '127.0.0.1',
            port: Number(port('POSTGRES')),
            ...postgres,
            database: 'aegis',
            connectionTimeoutMillis: PROBE_TIMEOUT_MS,
          });
          // A database going down mid-query is what is measured: an error event, not a crash.
          client.on('error', () => undefined);
          try {
            await client.connect();
          } catch {
            return false;
          }
          try {
            await client.query('select 1');
            return true;
          } finally {
            void client.end().catch(() => undefined);
          }
        }),
    },
    {
      pod: 'core',
      probe: () => answers(`http://127.0.0.1:${port('RUNTIME')}/health`, (body) => body.includes('"healthy"')),
    },
    { pod: 'temporal', probe: () => answers(`http://127.0.0.1:${port('TEMPORAL_UI')}`) },
    {
      pod: 'seal-gateway',
      probe: () => answers(`http://127.0.0.1:${port('SEAL_GATEWAY')}/health`, (body) => body.includes('"healthy"')),
    },
    { pod: 'observability', probe: () => answers(`http://127.0.0.1:${port('PROMETHEUS')}/-/ready`) },
  ];
  return services;
}

/**
 * Samples every service every 100 ms until stopped, each on its own clock (a slow answer does not delay the others).
 * Returns each service's outages: the downtime an operator's users saw.
 */
export function startProber(services: ProbedService[]): { stop(): Promise<Record<string, Outage[]>> } {
  let running = true;
  const loops = services.map(async (service) => {
    const outages: Outage[] = [];
    let downSince: number | undefined;
    while (running) {
      const sampledAt = Date.now();
      const up = await service.probe();
      if (!up && downSince === undefined) downSince = sampledAt;
      if (up && downSince !== undefined) {
        outages.push({ from: downSince, to: sampledAt });
        downSince = undefined;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, sampledAt + PROBE_INTERVAL_MS - Date.now())));
    }
    if (downSince !== undefined) outages.push({ from: downSince, to: Date.now() });
    return [service.pod, outages] as const;
  });
  return {
    async stop() {
      running = false;
      return Object.fromEntries(await Promise.all(loops));
    },
  };
}

export function downSeconds(outages: Outage[]): number {
  return outages.reduce((total, outage) => total + (outage.to - outage.from), 0) / 1000;
}

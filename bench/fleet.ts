/**
 * The fleet's scale figure (issue 9): one fleet of N environments on stand-ins (no podman, no deployment touched), each
 * environment with its own in-process worker on its own queue, the fleet on the shared fleet queue, on a real Temporal
 * dev server. `npm run build && node dist/bench/fleet.js [N]` prints it alone.
 */
import { performance } from 'node:perf_hooks';
import { fleetWorkflowId, type FleetProgress, type FleetRequest } from '../src/core/fleet';
import { startStandInFleet } from '../test/helpers/fleet';

export interface FleetFigures {
  environments: number;
  /** The fleet's waves (and so its runs: it continues as new between waves). */
  waves: number;
  /** From the fleet's start to its result, in seconds. */
  durationSeconds: number;
  /** Environments that reached the version (the measure fails unless all did). */
  completed: number;
  /** Runs of the fleet workflow: one per wave, more when a long bake continued as new. */
  runs: number;
  /** Events of the fleet workflow, all its runs together, and of its longest run: the bounded one. */
  historyEvents: number;
  maxRunEvents: number;
  /** In-process workers: one per environment (as each deployment has its own) and the fleet's. */
  workers: number;
  /** This process's memory once the fleet completed: all those workers, each with its own workflow context. */
  workerRssMiB: number;
  workerHeapUsedMiB: number;
}

/** The fleet measured: a canary, then waves of a quarter of the fleet, no bake. */
export function fleetRequestFor(names: string[]): FleetRequest {
  return { targetVersion: '1.3.0', environments: names, waveShare: '25%' };
}

const MiB = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

/** Upgrades a fleet of `n` stand-in environments and measures it; fails unless every environment completed. */
export async function measureFleet(n: number, request: (names: string[]) => FleetRequest = fleetRequestFor) {
  if (!Number.isInteger(n) || n < 1) throw new Error(`Expected a fleet size ≥ 1, got ${n}`);
  const names = Array.from({ length: n }, (_, index) => `site-${index + 1}`);
  const fleet = await startStandInFleet(names);
  try {
    const name = `bench-${n}`;
    const started = performance.now();
    const handle = await fleet.startFleet(name, request(names));
    const progress: FleetProgress = await handle.result();
    const durationSeconds = (performance.now() - started) / 1000;
    const completed = progress.environments.filter((entry) => entry.phase === 'completed').length;
    if (completed !== n) throw new Error(`Fleet of ${n}: only ${completed} environments completed`);
    const runEvents: number[] = [];
    for await (const run of fleet.client.workflow.list({ query: `WorkflowId = '${fleetWorkflowId(name)}'` })) {
      const history = await fleet.client.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
      runEvents.push(history.events?.length ?? 0);
    }
    const memory = process.memoryUsage();
    return {
      environments: n,
      waves: progress.waves,
      durationSeconds: Math.round(durationSeconds * 10) / 10,
      completed,
      runs: runEvents.length,
      historyEvents: runEvents.reduce((sum, events) => sum + events, 0),
      maxRunEvents: Math.max(...runEvents),
      workers: n + 1,
      workerRssMiB: MiB(memory.rss),
      workerHeapUsedMiB: MiB(memory.heapUsed),
    } satisfies FleetFigures;
  } finally {
    await fleet.close();
  }
}

export function formatFleetFigures(figures: FleetFigures): string {
  const { environments, waves, durationSeconds, runs, historyEvents, maxRunEvents } = figures;
  return (
    `Fleet of ${environments} stand-in environments, ${waves} waves: ${durationSeconds} s; fleet history ` +
    `${historyEvents} events over ${runs} runs (longest run ${maxRunEvents}); memory of the ${figures.workers} ` +
    `in-process workers ${figures.workerRssMiB} MiB RSS, ${figures.workerHeapUsedMiB} MiB heap`
  );
}

if (require.main === module) {
  measureFleet(Number(process.argv[2] ?? 100))
    .then((figures) => console.log(formatFleetFigures(figures)))
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}

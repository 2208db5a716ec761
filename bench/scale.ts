/**
 * The benchmark's "scale" line (issue 12): N concurrent upgrades on one worker, with the real workflow code and the
 * test stand-in activities (no podman, no deployment touched), on a real Temporal dev server. How the worker's wall
 * time, memory and CPU grow with N. `npm run build && node dist/bench/scale.js [N...]` prints the table alone.
 */
import { Client, Connection, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { UPGRADE_WORKFLOW_TYPE, upgradeWorkflowId, type UpgradeReport, type UpgradeRequest } from '../src/core/upgrade';
import { startDevServer, type DevServer } from '../test/helpers/temporal-server';
import { readCpuSeconds } from './proc';
import { sampleRss, startScaleWorker, type ScaleWorker } from './scale-worker-process';

/** Each upgrade: the stand-in platform's default profile (4 pods: database, core, temporal, seal-gateway), rolling. */
const SCALE_REQUEST: UpgradeRequest = { targetVersion: '1.3.0' };
/** One round of N upgrades must end within this, or the benchmark fails naming how many did. */
const ROUND_TIMEOUT_MS = 10 * 60_000;
/** The counts the issue asks for. */
export const DEFAULT_SCALE_COUNTS = [1, 10, 100];

/** One round: N upgrades started at once against one fresh worker process. */
export interface ScaleResult {
  /** N: upgrades started concurrently, each its own environment (`aegis-upgrade-scale-<N>-<i>`). */
  upgrades: number;
  /** From just before the first start to the last upgrade's result, in seconds. */
  wallSeconds: number;
  /** Upgrades that ended `completed` (the round fails unless all did, so this equals `upgrades`). */
  completed: number;
  /** The worker process's RSS once it polls, before the first start (its bundle built, no upgrade yet), in MiB. */
  workerIdleRssMiB: number;
  /** The highest RSS of the worker process sampled during the round (every 100 ms, from /proc), in MiB. */
  workerPeakRssMiB: number;
  /** How many RSS samples the peak is taken over. */
  rssSamples: number;
  /** CPU time (user + system, every thread) the worker process used from the first start to the last result. */
  workerCpuSeconds: number;
  /** CPU time the Temporal dev server used over the same span: which of the two sets the pace. */
  serverCpuSeconds: number;
  /** Events in the history of one upgrade of the round (the first). */
  historyEventsPerUpgrade: number;
  /**
   * The fewest and the most events of an upgrade's history in the round: concurrent upgrades take a few more
   * workflow tasks (an activity that ends while its workflow's task runs brings another task).
   */
  historyEventsRange: [number, number];
}

/** Why one upgrade did not complete, in one line; undefined when it did. */
export function incompleteUpgrade(
  workflowId: string,
  outcome: PromiseSettledResult<Pick<UpgradeReport, 'phase'>>,
): string | undefined {
  if (outcome.status === 'fulfilled') {
    return outcome.value.phase === 'completed' ? undefined : `${workflowId} ended ${outcome.value.phase}`;
  }
  const error: unknown = outcome.reason;
  const cause = error instanceof WorkflowFailedError ? (error.cause ?? error) : error;
  return `${workflowId} failed: ${cause instanceof Error ? cause.message : String(cause)}`;
}

/** Rejects after `ms`, saying how far the round got; `clear` it once the round is over. */
function roundDeadline(n: number, ms: number, completed: () => number) {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`N=${n}: only ${completed()} of ${n} upgrades ended within ${ms / 1000} s`)),
      ms,
    );
  });
  return { expired, clear: () => clearTimeout(timer) };
}

/** Starts N upgrades at once on `worker`'s task queue and waits for all of them; fails unless all complete. */
async function runRound(
  client: Client,
  server: DevServer,
  worker: ScaleWorker,
  taskQueue: string,
  n: number,
): Promise<ScaleResult> {
  const workflowIds = Array.from({ length: n }, (_, index) => upgradeWorkflowId(`scale-${n}-${index + 1}`));
  const workerIdleRssMiB = worker.rssMiB();
  const serverPid = server.pid() ?? 0;
  const cpuBefore = { worker: worker.cpuSeconds(), server: readCpuSeconds(serverPid) };
  const rss = sampleRss(worker);
  let ended = 0;
  let lastEnd = 0;
  const deadline = roundDeadline(n, ROUND_TIMEOUT_MS, () => ended);
  const firstStart = performance.now();
  let handles: WorkflowHandle[];
  let outcomes: PromiseSettledResult<UpgradeReport>[];
  try {
    handles = await Promise.all(
      workflowIds.map((workflowId) =>
        client.workflow.start(UPGRADE_WORKFLOW_TYPE, { taskQueue, workflowId, args: [SCALE_REQUEST] }),
      ),
    );
    const results = handles.map((handle) =>
      (handle.result() as Promise<UpgradeReport>).finally(() => {
        ended++;
        lastEnd = performance.now();
      }),
    );
    outcomes = await Promise.race([Promise.allSettled(results), deadline.expired]);
  } catch (error) {
    rss.cancel();
    throw error;
  } finally {
    deadline.clear();
  }
  const workerCpuSeconds = worker.cpuSeconds() - cpuBefore.worker;
  const serverCpuSeconds = readCpuSeconds(serverPid) - cpuBefore.server;
  const { peakMiB, samples } = rss.stop();
  const failures = outcomes.flatMap((outcome, index) => incompleteUpgrade(workflowIds[index] ?? '?', outcome) ?? []);
  if (failures.length > 0) {
    throw new Error(
      `N=${n}: ${n - failures.length} of ${n} upgrades completed on stand-in activities, which never fail: ` +
        `the workflow or the worker is broken. ${failures.slice(0, 5).join('; ')}`,
    );
  }
  const events = await Promise.all(handles.map(async (handle) => (await handle.fetchHistory()).events?.length ?? 0));
  return {
    upgrades: n,
    wallSeconds: (lastEnd - firstStart) / 1000,
    completed: n - failures.length,
    workerIdleRssMiB,
    workerPeakRssMiB: peakMiB,
    rssSamples: samples,
    workerCpuSeconds,
    serverCpuSeconds,
    historyEventsPerUpgrade: events[0] ?? 0,
    historyEventsRange: [Math.min(...events), Math.max(...events)],
  };
}

/**
 * For each N of `counts`, N concurrent upgrades against one worker process of their own (a fresh one per N, so each
 * N's memory and CPU are its own), all on one Temporal dev server. Fails loudly if an upgrade does not complete.
 */
export async function measureScale(counts: number[], log: (line: string) => void): Promise<ScaleResult[]> {
  const invalid = counts.filter((n) => !Number.isInteger(n) || n < 1);
  if (invalid.length > 0) throw new Error(`Expected upgrade counts to be whole numbers ≥ 1, got ${invalid.join(', ')}`);
  log('scale: starting a Temporal dev server, its state in memory');
  // On its SQLite file each write waits for an fsync: 10 upgrades took 7.8× one, the disk's pace, not the worker's.
  const server = await startDevServer({ database: 'memory' });
  const connection = await Connection.connect({ address: server.address });
  const results: ScaleResult[] = [];
  try {
    const client = new Client({ connection });
    for (const n of counts) {
      const taskQueue = `scale-${n}-${randomUUID().slice(0, 8)}`;
      const worker = await startScaleWorker(server.address, taskQueue);
      try {
        log(`scale: N=${n}: worker pid ${worker.pid} polls ${taskQueue}; starting ${n} upgrade(s)`);
        const result = await runRound(client, server, worker, taskQueue, n);
        log(`scale: N=${n}: ${result.completed}/${n} completed in ${result.wallSeconds.toFixed(2)} s`);
        results.push(result);
      } finally {
        await worker.stop();
      }
    }
  } finally {
    await connection.close();
    await server.stop();
  }
  return results;
}

const COLUMNS: { title: string; value: (result: ScaleResult, base: ScaleResult) => string }[] = [
  { title: 'N', value: (r) => String(r.upgrades) },
  { title: 'completed', value: (r) => String(r.completed) },
  { title: 'wall s', value: (r) => r.wallSeconds.toFixed(2) },
  { title: 's/upgrade', value: (r) => (r.wallSeconds / r.upgrades).toFixed(3) },
  { title: 'idle RSS MiB', value: (r) => r.workerIdleRssMiB.toFixed(0) },
  { title: 'peak RSS MiB', value: (r) => r.workerPeakRssMiB.toFixed(0) },
  { title: 'worker CPU s', value: (r) => r.workerCpuSeconds.toFixed(2) },
  { title: 'CPU ms/upgrade', value: (r) => ((r.workerCpuSeconds * 1000) / r.upgrades).toFixed(0) },
  { title: 'server CPU s', value: (r) => r.serverCpuSeconds.toFixed(2) },
  { title: 'events/upgrade', value: (r) => [...new Set(r.historyEventsRange)].join('–') },
  { title: 'wall ×', value: (r, base) => ratio(r.wallSeconds, base.wallSeconds) },
  { title: 'peak RSS ×', value: (r, base) => ratio(r.workerPeakRssMiB, base.workerPeakRssMiB) },
  { title: 'worker CPU ×', value: (r, base) => ratio(r.workerCpuSeconds, base.workerCpuSeconds) },
];

function ratio(value: number, base: number): string {
  return base > 0 ? (value / base >= 10 ? (value / base).toFixed(1) : (value / base).toFixed(2)) : '-';
}

/**
 * The results as a text table, one row per N; the `×` columns are the growth against the smallest N (N=1 in the
 * issue's run): wall time, peak RSS and CPU time of N upgrades over those of one.
 */
export function formatScaleTable(results: ScaleResult[]): string {
  const base = results.reduce<ScaleResult | undefined>(
    (min, r) => (!min || r.upgrades < min.upgrades ? r : min),
    undefined,
  );
  if (!base) return 'scale: no results';
  const rows = [COLUMNS.map((column) => column.title), ...results.map((r) => COLUMNS.map((c) => c.value(r, base)))];
  const widths = COLUMNS.map((_, index) => Math.max(...rows.map((row) => row[index]?.length ?? 0)));
  const lines = rows.map((row) => row.map((cell, index) => cell.padStart(widths[index] ?? 0)).join('  '));
  return [
    `Scale: N concurrent upgrades on one worker (stand-in activities, real workflows, Temporal dev server)`,
    ...lines,
    `× columns: growth against N=${base.upgrades}`,
  ].join('\n');
}

/** `node dist/bench/scale.js [N...]`: the counts to run (measureScale checks them), default 1 10 100. */
function countsFromArgs(args: string[]): number[] {
  return args.length === 0 ? DEFAULT_SCALE_COUNTS : args.map(Number);
}

async function main(): Promise<void> {
  const results = await measureScale(countsFromArgs(process.argv.slice(2)), (line) => console.error(line));
  console.log(formatScaleTable(results));
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}

/**
 * The scale benchmark's worker, in its own process so that its RSS and CPU time are its own: the real workflows on the
 * test stand-in activities (no podman, no deployment touched), on the task queue and server its parent names.
 * Started by `startScaleWorker` (bench/scale.ts) with `fork`; it talks to its parent over IPC only.
 */
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { WORKER_TUNING } from '../src/worker/tuning';
import { standInActivities } from '../test/helpers/stand-in-activities';
import { telemetrySinks } from '../src/worker/telemetry';

/** What the parent asks: to stop (it reads the worker's RSS and CPU time from /proc itself). */
export type ScaleWorkerRequest = { kind: 'stop' };

/** What the worker tells its parent: it polls its task queue. */
export type ScaleWorkerMessage = { kind: 'ready' };

function send(message: ScaleWorkerMessage): void {
  process.send?.(message);
}

async function main(): Promise<void> {
  const [address, taskQueue] = process.argv.slice(2);
  if (!address || !taskQueue || !process.send) {
    throw new Error(
      'Usage: fork(scale-worker.js, [<temporal address>, <task queue>]): it is started by bench/scale.ts',
    );
  }
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const connection = await NativeConnection.connect({ address });
  try {
    // The real worker's options (src/worker.ts) but for its activities and shutdown times, which only matter to podman.
    const worker = await Worker.create({
      connection,
      taskQueue,
      workflowsPath: require.resolve('../src/workflows'),
      activities: standInActivities(new Map()).activities,
      // The real worker's concurrency (src/worker.ts), so the figure is that of the worker operators run.
      ...WORKER_TUNING,
      sinks: telemetrySinks(),
    });
    process.on('message', (request: ScaleWorkerRequest) => request.kind === 'stop' && worker.shutdown());
    // The parent going away (a crash, Ctrl-C) stops the worker too: no orphan left polling.
    process.on('disconnect', () => worker.getState() === 'RUNNING' && worker.shutdown());
    const running = worker.run();
    send({ kind: 'ready' });
    await running;
  } finally {
    await connection.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);

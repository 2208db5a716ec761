import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from './activities';
import { ConfigError, TemporalUnreachable, describeConnection, loadConfig } from './config';
import { checkSearchAttributes } from './search-attributes-registry';

/**
 * The worker: runs upgrades from the task queue until SIGINT or SIGTERM. Then it takes no new task and lets the
 * activities it runs finish (a `make redeploy` is never cut in half) for up to the shutdown grace time; past it they
 * are cancelled, and the next worker retries them. The service manager must wait longer than that (see
 * deploy/aegis-upgrade-worker.service) and signal the worker alone, not the commands it runs.
 */
export async function runWorker(): Promise<void> {
  const config = loadConfig();
  const graceSeconds = config.worker.shutdownGraceSeconds;
  const connection = await NativeConnection.connect(config.temporal.connection).catch((error: unknown) => {
    throw new TemporalUnreachable(describeConnection(config.temporal), error);
  });
  try {
    await checkSearchAttributes(connection.operatorService, config.temporal.namespace);
    const worker = await Worker.create({
      connection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      workflowsPath: require.resolve('./workflows'),
      activities: createActivities({ config }),
      shutdownGraceTime: `${graceSeconds} seconds`,
      // Past this the SDK gives up on activities that ignore their cancellation: the process exits all the same.
      shutdownForceTime: `${graceSeconds + 30} seconds`,
    });
    // Stays registered: a second signal must not kill the worker in the middle of a redeploy (Node's default).
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.on(signal, () =>
        console.log(
          `aegis-upgrade worker: ${signal}: taking no new task; running activities have ${graceSeconds} s to finish, ` +
            `then they are cancelled and another worker resumes the upgrade`,
        ),
      );
    }
    console.log(
      `aegis-upgrade worker: task queue ${config.temporal.taskQueue}, namespace ${config.temporal.namespace}, ` +
        `on ${describeConnection(config.temporal)}; deployment ${config.aegis.root}`,
    );
    await worker.run();
    console.log('aegis-upgrade worker: stopped');
  } finally {
    await connection.close();
  }
}

// `node dist/src/worker.js` (npm start); `aegis-upgrade worker` imports runWorker instead.
if (require.main === module) {
  runWorker().catch((err: unknown) => {
    // What the operator can act on is one line; anything else (a bug) keeps its stack.
    const known = err instanceof ConfigError || err instanceof TemporalUnreachable;
    console.error(known ? `aegis-upgrade worker: ${err.message}` : err);
    process.exit(1);
  });
}

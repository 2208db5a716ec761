import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from './activities';
import { loadConfig } from './config';

/** The worker: runs upgrades from the task queue until SIGINT or SIGTERM, then finishes what it holds and returns. */
export async function runWorker(): Promise<void> {
  const config = loadConfig();
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  try {
    const worker = await Worker.create({
      connection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      workflowsPath: require.resolve('./workflows'),
      activities: createActivities({ config }),
    });
    console.log(
      `aegis-upgrade worker: task queue ${config.temporal.taskQueue} on ${config.temporal.address} ` +
        `(namespace ${config.temporal.namespace}), deployment ${config.aegis.root}`,
    );
    await worker.run();
  } finally {
    await connection.close();
  }
}

// `node dist/src/worker.js` (npm start); `aegis-upgrade worker` imports runWorker instead.
if (require.main === module) {
  runWorker().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}

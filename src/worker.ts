import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from './activities';
import { describeConnection, loadConfig } from './config';

/** The worker: runs upgrades from the task queue until SIGINT or SIGTERM, then finishes what it holds and exits. */
async function main(): Promise<void> {
  const config = loadConfig();
  const connection = await NativeConnection.connect(config.temporal.connection).catch((error: Error) => {
    throw new Error(`Cannot reach the Temporal server at ${describeConnection(config.temporal)}: ${error.message}`, {
      cause: error,
    });
  });
  try {
    const worker = await Worker.create({
      connection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      workflowsPath: require.resolve('./workflows'),
      activities: createActivities({ config }),
    });
    console.log(
      `aegis-upgrade worker: task queue ${config.temporal.taskQueue}, namespace ${config.temporal.namespace}, ` +
        `on ${describeConnection(config.temporal)}; deployment ${config.aegis.root}`,
    );
    await worker.run();
  } finally {
    await connection.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

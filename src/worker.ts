import { Worker } from '@temporalio/worker';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createActivities } from './activities';
import { checkRunsAsOwner } from './host/doctor/podman';
import { deploymentEnvironmentOf, ENVIRONMENT_MARKER_KEY } from './host/environment-guard';
import { ConfigError, TemporalUnreachable, describeConnection, loadConfig, type Config } from './config';
import { taskQueueFor } from './core/environments';
import { fleetTaskQueue } from './core/fleet';
import { connectWithRetry } from './worker/connection';
import { checkSearchAttributes } from './worker/search-attributes-registry';
import { installTelemetry, telemetryInterceptors, telemetrySinks } from './worker/telemetry';
import { keepHeartbeating } from './worker/heartbeats';
import { WORKER_TUNING } from './worker/tuning';
import { loadWorkflowCode } from './worker/workflow-bundle';

/** What a deploy checkout holds that the worker cannot work without: `make` runs the first, the second is its settings. */
const CHECKOUT_FILES = ['Makefile', '.env'] as const;

/** AEGIS_ROOT is a deploy checkout, or the worker does not start: an upgrade would fail on it at its first step. */
async function checkCheckout(root: string): Promise<void> {
  const fix = 'set AEGIS_ROOT to the deploy checkout the operator runs `make` in';
  const stats = await fs.stat(root).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw new ConfigError(`Cannot read AEGIS_ROOT ${root}: ${error.message}`, { cause: error });
  });
  if (!stats) throw new ConfigError(`AEGIS_ROOT ${root} does not exist: ${fix}`);
  if (!stats.isDirectory()) throw new ConfigError(`AEGIS_ROOT ${root} is not a directory: ${fix}`);
  // Its podman holds the platform's pods only when it runs as the checkout's owner (rootless, docs/doctor.md).
  const owner = await checkRunsAsOwner(root);
  if (owner.status === 'blocked')
    throw new ConfigError(`The worker cannot serve AEGIS_ROOT ${root}: ${owner.detail}; ${owner.fix}`);
  const missing: string[] = [];
  for (const file of CHECKOUT_FILES) {
    await fs.access(path.join(root, file)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') {
        throw new ConfigError(`Cannot read ${path.join(root, file)}: ${error.message}`, { cause: error });
      }
      missing.push(file);
    });
  }
  if (missing.length > 0) {
    throw new ConfigError(`AEGIS_ROOT ${root} has no ${missing.join(' and no ')}: ${fix}`);
  }
}

/**
 * A worker pointed at no deploy checkout (a missing directory, no `Makefile` or `.env`), or at another environment's
 * (its `.env` says so), does not start.
 */
export async function checkDeployment({ aegis: { environment, root } }: Config): Promise<void> {
  await checkCheckout(root);
  const marked = await deploymentEnvironmentOf(root);
  if (marked !== undefined && marked !== environment) {
    throw new ConfigError(
      `AEGIS_ENVIRONMENT is \`${environment}\`, but the deployment ${root} is environment ${marked} ` +
        `(${ENVIRONMENT_MARKER_KEY} in its .env): set AEGIS_ENVIRONMENT=${marked}, ` +
        `or AEGIS_ROOT to ${environment}'s checkout`,
    );
  }
}

/**
 * The worker: runs the upgrades of one environment, from its task queue, until SIGINT or SIGTERM. Then it takes no new
 * task and lets the activities it runs finish (a `make redeploy` is never cut in half) for up to the shutdown grace
 * time; past it they are cancelled, and the next worker retries them. The service manager must wait longer than that
 * (see deploy/aegis-upgrade-worker.service) and signal the worker alone, not the commands it runs.
 */
export async function runWorker(): Promise<void> {
  const config = loadConfig();
  await checkDeployment(config);
  const taskQueue = taskQueueFor(config.aegis.environment, config.temporal.taskQueue);
  const graceSeconds = config.worker.shutdownGraceSeconds;
  const logger = installTelemetry(config.worker.telemetry);
  const connection = await connectWithRetry(config.temporal, logger);
  try {
    await checkSearchAttributes(connection.operatorService, config.temporal.namespace);
    // Loaded once for both workers: the environment's and the fleets'.
    const { workflowBundle, origin } = await loadWorkflowCode(logger);
    const worker = await Worker.create({
      connection,
      namespace: config.temporal.namespace,
      taskQueue,
      workflowBundle,
      activities: createActivities({ config }),
      ...WORKER_TUNING,
      interceptors: { activity: [keepHeartbeating, ...(telemetryInterceptors.activity ?? [])] },
      sinks: telemetrySinks(),
      shutdownGraceTime: `${graceSeconds} seconds`,
      // Past this the SDK gives up on activities that ignore their cancellation: the process exits all the same.
      shutdownForceTime: `${graceSeconds + 30} seconds`,
    });
    // Fleets run here: every worker also polls the shared fleet queue, for workflows only, so any live worker drives
    // a fleet; the fleet sends each environment's upgrade and health checks to that environment's own queue.
    const fleetWorker = await Worker.create({
      connection,
      namespace: config.temporal.namespace,
      taskQueue: fleetTaskQueue(config.temporal.taskQueue),
      workflowBundle,
      ...WORKER_TUNING,
      interceptors: telemetryInterceptors,
      sinks: telemetrySinks(),
    });
    // Stays registered: a second signal must not kill the worker in the middle of a redeploy (Node's default).
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.on(signal, () =>
        logger.info(
          `aegis-upgrade worker: ${signal}: taking no new task; running activities have ${graceSeconds} s to finish, ` +
            `then they are cancelled and another worker resumes the upgrade`,
        ),
      );
    }
    const metrics = config.worker.telemetry.metricsAddress;
    logger.info(
      `aegis-upgrade worker: task queue ${taskQueue}, namespace ${config.temporal.namespace}, ` +
        `on ${describeConnection(config.temporal)}; fleets from ${fleetTaskQueue(config.temporal.taskQueue)}; ` +
        `environment ${config.aegis.environment}, deployment ${config.aegis.root}; workflows from ${origin}` +
        (metrics ? `; metrics on http://${metrics}/metrics` : ''),
    );
    await runBoth(worker, fleetWorker);
    logger.info('aegis-upgrade worker: stopped');
  } finally {
    await connection.close();
  }
}

/** Runs both workers until they stop; when one fails, the other is shut down too, and the failure is thrown. */
async function runBoth(worker: Worker, fleetWorker: Worker): Promise<void> {
  const stopOther = (other: Worker) => (error: unknown) => {
    if (other.getState() === 'RUNNING') other.shutdown();
    throw error;
  };
  await Promise.all([worker.run().catch(stopOther(fleetWorker)), fleetWorker.run().catch(stopOther(worker))]);
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

import { Client, Connection, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import {
  DefaultLogger,
  NativeConnection,
  Runtime,
  Worker,
  bundleWorkflowCode,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MANIFEST_FILE } from '../../src/core/backup-layout';
import { checkDowngrade } from '../../src/host/downgrade';
import { guardEnvironment } from '../../src/host/environment-guard';
import type { PreflightReport } from '../../src/activities/preflight';
import { taskQueueFor } from '../../src/core/environments';
import { FLEET_WORKFLOW_TYPE, fleetTaskQueue, fleetWorkflowId, type FleetRequest } from '../../src/core/fleet';
import { upgradeWorkflowId } from '../../src/core/upgrade';
import type { upgradeFleet } from '../../src/workflows/upgrade-fleet';
import { standInActivities, type StandInScenario, type StandIns } from './stand-in-activities';
import { startDevServer, type DevServer, type DevServerOptions } from './temporal-server';
import { telemetrySinks } from '../../src/worker/telemetry';

export const FROM_VERSION = '1.2.0';

/** One environment of a stand-in fleet: its stand-in platform (which keeps the version it runs) and its worker. */
export interface StandInEnvironment {
  environment: string;
  standIn: StandIns;
  /** The version its `.env` names now: set by the upgrades' setImageTag. */
  version: string;
  /** What its health check finds; empty: healthy. */
  healthProblems: string[];
  /** How many times a fleet checked its health. */
  healthChecks: number;
  /** Its backup directory: each upgrade's backup writes its manifest there, as the real one does. */
  backupDir: string;
  /** The stand-ins, checkHealth answering from `version` and `healthProblems` (a fleet's call: no upgrade's scenario). */
  activities: StandIns['activities'];
  /** Gives the next upgrade of it this scenario (on top of the version-keeping stand-ins). */
  scenario(scenario?: StandInScenario): void;
}

/** A dev server, one stand-in worker per environment on its own queue, and a workflows-only worker on the fleet queue. */
export interface StandInFleet {
  server: DevServer;
  client: Client;
  defaultQueue: string;
  environments: Map<string, StandInEnvironment>;
  startFleet(name: string, request: FleetRequest): Promise<WorkflowHandleWithFirstExecutionRunId<typeof upgradeFleet>>;
  close(): Promise<void>;
}

let runtimeInstalled = false;

/**
 * `names` as environments, each with its own stand-in platform and its own in-process worker (guarded as the real
 * ones), sharing one workflow bundle; on `server` when given (left running), else on a new one (with these options).
 */
export async function startStandInFleet(
  names: readonly string[],
  server?: DevServer | DevServerOptions,
): Promise<StandInFleet> {
  if (!runtimeInstalled) {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
    runtimeInstalled = true;
  }
  const given = server && 'address' in server ? server : undefined;
  const ownServer = given ?? (await startDevServer({ database: 'memory', ...server }));
  const connection = await Connection.connect({ address: ownServer.address });
  const native = await NativeConnection.connect({ address: ownServer.address });
  const client = new Client({ connection });
  const defaultQueue = `fleet-${randomUUID().slice(0, 8)}`;
  const workflowBundle = await bundleWorkflowCode({
    // Beside this file: the sources under ts-jest, the build under dist (the benchmark).
    workflowsPath: require.resolve('../../src/workflows'),
    logger: new DefaultLogger('ERROR'),
  });
  const environments = new Map<string, StandInEnvironment>();
  const backups = await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-fleet-backups-'));
  const workers: Worker[] = [await fleetWorker(native, defaultQueue, workflowBundle)];
  for (const environment of names) {
    const entry = standInEnvironment(environment, path.join(backups, environment));
    environments.set(environment, entry);
    workers.push(
      await Worker.create({
        connection: native,
        taskQueue: taskQueueFor(environment, defaultQueue),
        workflowBundle,
        maxCachedWorkflows: 10,
        sinks: telemetrySinks(),
        activities: guardEnvironment(entry.activities, {
          environment,
          root: `/srv/${environment}`,
          deploymentEnvironment: () => Promise.resolve(environment),
        }),
      }),
    );
  }
  const running = workers.map((worker) => worker.run());
  return {
    server: ownServer,
    client,
    defaultQueue,
    environments,
    async startFleet(name, request) {
      return client.workflow.start<typeof upgradeFleet>(FLEET_WORKFLOW_TYPE, {
        taskQueue: fleetTaskQueue(defaultQueue),
        workflowId: fleetWorkflowId(name),
        args: [request],
      });
    },
    async close() {
      for (const worker of workers) worker.shutdown();
      await Promise.all(running);
      await native.close();
      await connection.close();
      if (!given) await ownServer.stop();
      await fs.rm(backups, { recursive: true, force: true });
    },
  };
}

function fleetWorker(native: NativeConnection, defaultQueue: string, workflowBundle: WorkflowBundleWithSourceMap) {
  return Worker.create({
    connection: native,
    taskQueue: fleetTaskQueue(defaultQueue),
    workflowBundle,
    sinks: telemetrySinks(),
  });
}

/**
 * An environment whose stand-ins keep its version: pre-flight reads it and applies the real downgrade rule
 * (`checkDowngrade`) on the manifests its backups write, setImageTag sets it, checkHealth reports it.
 */
function standInEnvironment(environment: string, backupDir: string): StandInEnvironment {
  const standIn = standInActivities(new Map());
  const entry: StandInEnvironment = {
    environment,
    standIn,
    version: FROM_VERSION,
    healthProblems: [],
    healthChecks: 0,
    backupDir,
    activities: {
      ...standIn.activities,
      async checkHealth() {
        entry.healthChecks += 1;
        return { environment, version: entry.version, problems: entry.healthProblems };
      },
    },
    scenario(scenario = {}) {
      standIn.scenario(upgradeWorkflowId(environment), {
        ...scenario,
        overrides: {
          async checkPreflight({ request }): Promise<PreflightReport> {
            const restoreFrom = await checkDowngrade(request, entry.version, backupDir);
            return {
              profile: 'development',
              fromVersion: entry.version,
              toVersion: request.targetVersion,
              pods: ['database', 'core', 'temporal', 'seal-gateway'],
              images: [],
              checks: ['stand-in platform'],
              databaseBytes: 1024,
              alreadyAtTarget: entry.version === request.targetVersion,
              ...(restoreFrom && { restoreFrom }),
            };
          },
          async backUpDatabases({ backupId, fromVersion, toVersion }) {
            const location = path.join(backupDir, backupId);
            await fs.mkdir(location, { recursive: true });
            const createdAt = new Date().toISOString();
            const manifest = { createdAt, fromVersion, toVersion, images: {}, migrations: [], files: [] };
            await fs.writeFile(path.join(location, MANIFEST_FILE), JSON.stringify(manifest));
            return { location, files: [] };
          },
          async setImageTag({ tag }) {
            const previous = entry.version;
            entry.version = tag;
            return previous;
          },
          ...scenario.overrides,
        },
      });
    },
  };
  entry.scenario();
  return entry;
}

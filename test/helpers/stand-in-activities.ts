import { storageName } from '../../src/core/cluster-storage';
import { Context } from '@temporalio/activity';
import { Client, Connection, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { ApplicationFailure, type Duration } from '@temporalio/common';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import type { UpgradeActivities } from '../../src/activities';
import { acquireLock } from '../../src/host/lock-file';
import { createLockActivities } from '../../src/activities/lock';
import { postgresImageTag } from '../../src/activities/component-tags';
import { ComponentUpgradeRefused, planComponentUpgrade, temporalImageTag } from '../../src/core/components';
import type { PodName } from '../../src/core/platform';
import { UPGRADE_WORKFLOW_TYPE, type UpgradeRequest } from '../../src/core/upgrade';
import { REPO_ROOT } from './repo';
import { startDevServer, type DevServer } from './temporal-server';
import { telemetrySinks } from '../../src/worker/telemetry';

/** An activity's first call in an upgrade fails with this error. */
export interface StandInFailure {
  /** `name`, or `name:pod` for the pod activities (`awaitPodReady:temporal`). */
  activity: string;
  type: string;
  message: string;
  /** The error lets the retry policy try again (a registry outage); the retry succeeds. @default false */
  retryable?: boolean;
}

/** How one upgrade's stand-in platform behaves, chosen by its workflow ID. */
export interface StandInScenario {
  /** The version `.env` says runs now. @default '1.2.0' */
  runningVersion?: string;
  /** The profile's pods, unless the request names some. @default database, core, temporal, seal-gateway */
  deployedPods?: PodName[];
  /** Activities whose first call fails; later calls behave. */
  fail?: StandInFailure[];
  /** Activity (`name` or `name:pod`) whose first call waits until released, cancelled, or its worker stops. */
  hold?: string;
  /**
   * The held activity sends no heartbeat, so a cancel does not reach it: it goes on once released, as a pre-flight
   * that takes the lock after the upgrade was cancelled.
   */
  holdThroughCancel?: boolean;
  /** Pre-flight refuses with this message (the real one throws PreflightFailed). */
  refuse?: string;
  /** The version a component upgrade finds running. @default postgres 15.8, temporal 1.22.3 */
  componentVersion?: string;
  /** Activities replaced for this upgrade (after the knobs above); their calls are recorded all the same. */
  overrides?: Partial<UpgradeActivities>;
}

export interface StandInOptions {
  /**
   * A deploy checkout (a temporary directory): the real lock activities run on it, and the stand-in pre-flight takes
   * the real lock there, as the real one does last. @default none: the lock activities are stand-ins too
   */
  lockRoot?: string;
}

/** What every activity does on a healthy stand-in platform, given the upgrade's scenario. */
type StandInBehaviours = {
  [Name in keyof UpgradeActivities]: (
    input: Parameters<UpgradeActivities[Name]>[0],
    scenario: StandInScenario,
  ) => ReturnType<UpgradeActivities[Name]>;
};

interface Call {
  /** `name`, or `name:pod` for the pod activities. */
  key: string;
  name: keyof UpgradeActivities;
  input: unknown;
}

const RUNNING_VERSION = '1.2.0';
const COMPONENT_VERSIONS = { postgres: '15.8', temporal: '1.22.3' } as const;
const PGDATA = '/srv/aegis-state/pgdata';
const DEPLOYED_PODS: PodName[] = ['database', 'core', 'temporal', 'seal-gateway'];

/**
 * Activities that behave like the platform without touching one: every call is recorded per workflow, and a scenario
 * makes some fail, hang or behave otherwise. Workflow tests run on these in seconds; the sandbox tests run the real
 * ones. Every activity of `UpgradeActivities` is here: a new one is a compile error in this file only.
 */
export function standInActivities(scenarios: Map<string, StandInScenario>, { lockRoot }: StandInOptions = {}) {
  const calls = new Map<string, Call[]>();
  const failed = new Set<string>();
  const held = new Set<string>();
  const releases = new Map<string, () => void>();
  const lockTakers = new Map<string, string>();

  const hold = async (workflowId: string, scenario: StandInScenario) => {
    const context = Context.current();
    held.add(workflowId);
    const released = new Promise<void>((resolve) => releases.set(workflowId, resolve));
    if (scenario.holdThroughCancel) return released;
    // A cancellation reaches an activity through its heartbeats only.
    const beat = setInterval(() => context.heartbeat(), 500);
    try {
      await Promise.race([context.cancelled, released]);
    } finally {
      clearInterval(beat);
    }
  };

  /** Records the call, then applies the scenario's knobs to it. */
  const called = async (name: keyof UpgradeActivities, input: unknown): Promise<StandInScenario> => {
    const workflowId = Context.current().info.workflowExecution?.workflowId ?? '';
    const pod = (input as { pod?: PodName } | undefined)?.pod;
    const key = pod ? `${name}:${pod}` : name;
    calls.set(workflowId, [...(calls.get(workflowId) ?? []), { key, name, input }]);
    const scenario = scenarios.get(workflowId) ?? {};
    const failure = scenario.fail?.find(({ activity }) => activity === key);
    if (failure && !failed.has(`${workflowId} ${key}`)) {
      failed.add(`${workflowId} ${key}`);
      const { message, type, retryable } = failure;
      throw retryable ? ApplicationFailure.retryable(message, type) : ApplicationFailure.nonRetryable(message, type);
    }
    if (scenario.hold === key && !held.has(workflowId)) await hold(workflowId, scenario);
    return scenario;
  };

  const behaviours: StandInBehaviours = {
    async checkPreflight({ request, lockOwner, readOnly }, scenario) {
      if (scenario.refuse) throw ApplicationFailure.nonRetryable(scenario.refuse, 'PreflightFailed');
      const fromVersion = scenario.runningVersion ?? RUNNING_VERSION;
      if (lockRoot && !readOnly) {
        await acquireLock(lockRoot, { ...lockOwner, fromVersion, toVersion: request.targetVersion });
        lockTakers.set(lockOwner.workflowId, lockOwner.runId);
      }
      return {
        profile: 'development',
        fromVersion,
        toVersion: request.targetVersion,
        pods: request.pods ?? scenario.deployedPods ?? DEPLOYED_PODS,
        images: [],
        checks: ['stand-in platform'],
        databaseBytes: 1024,
        alreadyAtTarget: fromVersion === request.targetVersion,
      };
    },
    pinRunningImages: async () => [],
    pullImages: async ({ tag }) => [{ image: `aegis-runtime:${tag}`, digest: `sha256:${'0'.repeat(64)}` }],
    backUpDatabases: async ({ backupId }) => ({ location: `/var/backups/aegis/${backupId}`, files: [] }),
    snapshotMigrations: async () => [{ version: 1, description: 'init', success: true, checksum: '00' }],
    setImageTag: async (_input, scenario) => scenario.runningVersion ?? RUNNING_VERSION,
    redeployPod: async () => ({ startedAt: new Date().toISOString(), skipped: false }),
    awaitPodReady: async ({ pod }) => `${pod} ready`,
    awaitMigrations: async () => [2],
    redeployPlatform: async () => '',
    validatePlatform: async () => 'all services healthy',
    restorePinnedImages: async ({ previousTag }) => previousTag,
    restoreDatabase: async () => ({ restored: true, reason: 'schema moved: restored' }),
    backUpFinal: async ({ backup }) => ({ ...backup, final: { takenAt: new Date().toISOString(), files: [] } }),
    resumeWriters: async () => [],
    resumeRecordedWriters: async () => [],
    keepHostCli: async ({ location }) => ({ copy: `${location}/host/aegis`, version: `aegis ${RUNNING_VERSION}` }),
    installHostCli: async ({ tag }) => ({ binary: `bin/aegis says aegis ${tag}`, daemon: 'aegis-fuse-daemon active' }),
    restoreHostCli: async ({ kept }) => ({
      binary: `bin/aegis says ${kept.version}`,
      daemon: 'aegis-fuse-daemon active',
    }),
    releaseUpgradeLock: async () => undefined,
    readUpgradeLock: async () => ({ path: '/srv/aegis-deploy/.aegis-upgrade.lock', state: 'free' }),
    lockHolderStatus: async () => ({ ownerStatus: 'not found' }),
    clearUpgradeLock: async () => undefined,
    notify: async ({ environment }) => `no webhook configured for ${environment}`,
    checkHealth: async ({ environment }, scenario) => ({
      environment,
      version: scenario.runningVersion ?? RUNNING_VERSION,
      problems: [],
    }),
    async checkComponentPreflight({ request, lockOwner, readOnly }, scenario) {
      if (scenario.refuse) throw ApplicationFailure.nonRetryable(scenario.refuse, 'PreflightFailed');
      const version = scenario.componentVersion ?? COMPONENT_VERSIONS[request.component];
      let plan;
      try {
        plan = planComponentUpgrade(request, version);
      } catch (error) {
        if (error instanceof ComponentUpgradeRefused)
          throw ApplicationFailure.nonRetryable(error.message, 'PreflightFailed');
        throw error;
      }
      if (lockRoot && !readOnly) {
        await acquireLock(lockRoot, { ...lockOwner, fromVersion: version, toVersion: request.targetVersion });
        lockTakers.set(lockOwner.workflowId, lockOwner.runId);
      }
      const postgres = request.component === 'postgres';
      const currentTag = postgres ? '15-alpine' : version;
      return {
        plan,
        currentTag,
        targetTag: postgres ? postgresImageTag(currentTag, plan.toVersion) : temporalImageTag(plan.toVersion),
        aegisTag: scenario.runningVersion ?? RUNNING_VERSION,
        ...(plan.strategy === 'postgres-major' && {
          dataStorage: { directory: PGDATA },
          newDataStorage: { directory: `${PGDATA}-16` },
        }),
        checks: ['stand-in platform'],
      };
    },
    setComponentImageTag: async ({ pod }) => (pod === 'database' ? '15-alpine' : COMPONENT_VERSIONS.temporal),
    setDatabaseDataDirectory: async () => PGDATA,
    verifyPostgresVersion: async ({ version }) => `PostgreSQL ${version}`,
    verifyTemporalServer: async ({ tag }) => `auto-setup:${tag} running`,
    stopDatabaseClients: async () => ['core', 'temporal', 'seal-gateway'],
    startDatabaseClients: async () => ['core', 'temporal', 'seal-gateway'],
    dumpCluster: async ({ backupId }) => ({
      location: `/var/backups/aegis/${backupId}`,
      file: { name: 'cluster.sql', bytes: 1, sha256: '0'.repeat(64) },
      takenAt: new Date().toISOString(),
      summary: '3 databases, 4 tables (10 rows), 1 roles',
    }),
    prepareDataDirectory: async (storage) => `${storageName(storage)} created`,
    restoreCluster: async (storage) => `restored into ${storageName(storage)}`,
    verifyClusterCopy: async () => 'identical',
    stopTemporalServer: async () => undefined,
    backUpTemporalDatabases: async ({ backupId }) => ({ location: `/var/backups/aegis/${backupId}`, files: [] }),
    restoreTemporalDatabases: async () => ['temporal', 'temporal_visibility'],
    ...(lockRoot ? createLockActivities(lockRoot) : {}),
  };

  type AnyActivity = (input: unknown, scenario?: StandInScenario) => Promise<unknown>;
  const activities = Object.fromEntries(
    (Object.keys(behaviours) as (keyof UpgradeActivities)[]).map((name) => [
      name,
      async (input: unknown) => {
        const scenario = await called(name, input);
        const override = scenario.overrides?.[name] as AnyActivity | undefined;
        return override ? override(input) : (behaviours[name] as AnyActivity)(input, scenario);
      },
    ]),
  ) as UpgradeActivities;

  return {
    activities,
    /** Sets the scenario of the upgrade `workflowId`, forgetting the calls and knobs of an earlier run of it. */
    scenario(workflowId: string, scenario: StandInScenario) {
      scenarios.set(workflowId, scenario);
      for (const done of [calls, held, releases, lockTakers]) done.delete(workflowId);
      for (const key of failed) if (key.startsWith(`${workflowId} `)) failed.delete(key);
    },
    /**
     * Every activity the upgrade `workflowId` called on the platform, in order (`redeployPod:core`). Its webhook
     * notifications run beside its steps: `inputs(workflowId, 'notify')` lists them.
     */
    calls: (workflowId: string) =>
      (calls.get(workflowId) ?? []).filter(({ name }) => name !== 'notify').map(({ key }) => key),
    /** What the upgrade `workflowId` passed to activity `name`, call by call. */
    inputs: (workflowId: string, name: keyof UpgradeActivities) =>
      (calls.get(workflowId) ?? []).filter((call) => call.name === name).map(({ input }) => input),
    /** True once the scenario's held activity is running. */
    holding: (workflowId: string) => held.has(workflowId),
    /** Lets the held activity of `workflowId` complete. */
    release: (workflowId: string) => releases.get(workflowId)?.(),
    /** The run of `workflowId` whose pre-flight took the lock last (with `lockRoot`). */
    lockTakenBy: (workflowId: string) => lockTakers.get(workflowId),
  };
}

export type StandIns = ReturnType<typeof standInActivities>;

/** A dev server, a client on it and a worker on the stand-ins; each upgrade's scenario is set when it starts. */
export interface StandInServer {
  server: DevServer;
  client: Client;
  /** The task queue of the worker that runs from start to close. */
  taskQueue: string;
  standIn: StandIns;
  /** Starts upgrade `workflowId` on `scenario` (on `taskQueue` unless another is given). */
  start(
    workflowId: string,
    request: UpgradeRequest,
    scenario?: StandInScenario,
    taskQueue?: string,
  ): Promise<WorkflowHandleWithFirstExecutionRunId>;
  /** Another worker on the same stand-ins, on its own task queue: a test may stop it mid-upgrade. */
  createWorker(taskQueue: string, options?: { shutdownGraceTime?: Duration }): Promise<Worker>;
  close(): Promise<void>;
}

let runtimeInstalled = false;

/** Starts a dev server and an in-process worker running the real workflows on stand-in activities. */
export async function startStandInServer(options: StandInOptions = {}): Promise<StandInServer> {
  if (!runtimeInstalled) {
    // The activity failures these tests provoke are expected: only errors of the worker itself are printed.
    Runtime.install({ logger: new DefaultLogger('ERROR') });
    runtimeInstalled = true;
  }
  const standIn = standInActivities(new Map(), options);
  const server = await startDevServer();
  const connection = await Connection.connect({ address: server.address });
  const native = await NativeConnection.connect({ address: server.address });
  const client = new Client({ connection });
  const createWorker = (taskQueue: string, workerOptions: { shutdownGraceTime?: Duration } = {}) =>
    Worker.create({
      connection: native,
      taskQueue,
      workflowsPath: require.resolve(`${REPO_ROOT}/src/workflows`),
      activities: standIn.activities,
      sinks: telemetrySinks(),
      ...workerOptions,
    });
  const taskQueue = `stand-in-${randomUUID().slice(0, 8)}`;
  const worker = await createWorker(taskQueue);
  const running = worker.run();
  return {
    server,
    client,
    taskQueue,
    standIn,
    start(workflowId, request, scenario = {}, queue = taskQueue) {
      standIn.scenario(workflowId, scenario);
      return client.workflow.start(UPGRADE_WORKFLOW_TYPE, { taskQueue: queue, workflowId, args: [request] });
    },
    createWorker,
    async close() {
      worker.shutdown();
      await running;
      await native.close();
      await connection.close();
      await server.stop();
    },
  };
}

/** Waits until `condition` holds, polling every 100 ms. */
export async function until(condition: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Condition not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

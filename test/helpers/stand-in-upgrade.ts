import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import type { UpgradeActivities } from '../../src/activities';
import { UPGRADE_WORKFLOW_TYPE, type UpgradeRequest } from '../../src/upgrade';
import { REPO_ROOT } from './repo';
import { startDevServer, type DevServer } from './temporal-server';

/** What each stand-in activity was called with, in order: `['setImageTag', { tag: '1.3.0' }]`. */
export type ActivityCalls = [keyof UpgradeActivities, unknown][];

/**
 * Every activity of the upgrade as a stand-in for a healthy platform at 1.2.0 with pods `database` and `core`:
 * the real workflow runs on them, on a real Temporal dev server, in seconds. Each call is recorded.
 */
export function standInActivities(calls: ActivityCalls, overrides: Partial<UpgradeActivities> = {}): UpgradeActivities {
  const healthy: UpgradeActivities = {
    checkPreflight: async ({ request }) => ({
      profile: 'development',
      fromVersion: '1.2.0',
      toVersion: request.targetVersion,
      pods: request.pods ?? ['database', 'core'],
      images: [],
      checks: ['stand-in pre-flight'],
      databaseBytes: 0,
      alreadyAtTarget: false,
    }),
    pinRunningImages: async ({ pinTag }) => [`registry.test/aegis-runtime:${pinTag}`],
    pullImages: async ({ tag }) => [
      { image: `registry.test/aegis-runtime:${tag}`, digest: `sha256:${'0'.repeat(64)}` },
    ],
    backUpDatabases: async ({ backupId }) => ({ location: `/backups/${backupId}`, files: [] }),
    restoreDatabase: async () => ({ restored: false, reason: 'schema unchanged' }),
    setImageTag: async () => '1.2.0',
    redeployPod: async () => ({ startedAt: new Date().toISOString(), skipped: false }),
    awaitPodReady: async ({ pod }) => `aegis-${pod} ready`,
    redeployPlatform: async () => undefined,
    awaitMigrations: async () => [],
    snapshotMigrations: async () => [],
    validatePlatform: async () => 'every service ✓',
    restorePinnedImages: async ({ previousTag }) => previousTag,
    releaseUpgradeLock: async () => undefined,
    readUpgradeLock: async () => ({ path: '/srv/aegis-deploy/.aegis-upgrade.lock', state: 'free' }),
    lockHolderStatus: async () => ({ ownerStatus: 'not found' }),
    clearUpgradeLock: async () => undefined,
    backUpFinal: async ({ backup }) => ({ ...backup, final: { takenAt: new Date().toISOString(), files: [] } }),
    resumeWriters: async () => [],
  };
  const recorded = { ...healthy, ...overrides } as Record<string, (input: unknown) => Promise<unknown>>;
  return Object.fromEntries(
    Object.entries(recorded).map(([name, activity]) => [
      name,
      async (input: unknown) => {
        calls.push([name as keyof UpgradeActivities, input]);
        return activity(input);
      },
    ]),
  ) as unknown as UpgradeActivities;
}

/** A dev server and a client on it; each test runs its own worker on its own task queue. */
export interface StandInBench {
  server: DevServer;
  client: Client;
  /**
   * Runs one upgrade on a worker with `activities` until `use` returns; `use` gets the workflow handle.
   */
  upgrade<T>(
    activities: UpgradeActivities,
    request: UpgradeRequest,
    use: (handle: WorkflowHandle) => Promise<T>,
  ): Promise<T>;
  close(): Promise<void>;
}

let runtimeInstalled = false;

export async function startStandInBench(): Promise<StandInBench> {
  if (!runtimeInstalled) {
    // The activity failures these tests provoke are expected: only errors of the worker itself are printed.
    Runtime.install({ logger: new DefaultLogger('ERROR') });
    runtimeInstalled = true;
  }
  const server = await startDevServer();
  const connection = await Connection.connect({ address: server.address });
  const workerConnection = await NativeConnection.connect({ address: server.address });
  const client = new Client({ connection });
  return {
    server,
    client,
    async upgrade(activities, request, use) {
      const taskQueue = `stand-in-${randomUUID().slice(0, 8)}`;
      const worker = await Worker.create({
        connection: workerConnection,
        taskQueue,
        workflowsPath: require.resolve(`${REPO_ROOT}/src/workflows`),
        activities,
      });
      return worker.runUntil(async () => {
        const handle = await client.workflow.start(UPGRADE_WORKFLOW_TYPE, {
          taskQueue,
          workflowId: `aegis-upgrade-stand-in-${randomUUID().slice(0, 8)}`,
          args: [request],
        });
        return use(handle);
      });
    },
    async close() {
      await connection.close();
      await workerConnection.close();
      await server.stop();
    },
  };
}

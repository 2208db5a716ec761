import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { UpgradeActivities } from '../../src/activities';
import type { PreflightInput, PreflightReport } from '../../src/activities/preflight';
import type { PodName } from '../../src/platform';
import type { BackupRecord } from '../../src/upgrade';

/** How one upgrade's stand-in platform behaves, chosen by its workflow ID. */
export interface StandInScenario {
  /** The version `.env` says runs now. @default '1.2.0' */
  runningVersion?: string;
  /** The profile's pods. @default database, core, temporal, seal-gateway */
  deployedPods?: PodName[];
  /** Activity (`name` or `name:pod`) whose first call fails, non-retryably, with this error type. */
  fail?: { activity: string; type: string; message: string };
  /** Activity (`name` or `name:pod`) whose first call waits until released, cancelled, or its worker stops. */
  hold?: string;
  /** Pre-flight refuses with this message (the real one throws PreflightFailed). */
  refuse?: string;
}

/**
 * Activities that behave like the platform without touching one: every call is logged per workflow, and a scenario
 * makes one fail or hang. Workflow tests run on these in seconds; the sandbox tests run the real ones.
 */
export function standInActivities(scenarios: Map<string, StandInScenario>) {
  const calls = new Map<string, string[]>();
  const held = new Set<string>();
  const failed = new Set<string>();
  const releases = new Map<string, () => void>();

  const called = async (name: string, pod?: PodName): Promise<StandInScenario> => {
    const context = Context.current();
    const workflowId = context.info.workflowExecution?.workflowId ?? '';
    const key = pod ? `${name}:${pod}` : name;
    calls.set(workflowId, [...(calls.get(workflowId) ?? []), key]);
    const scenario = scenarios.get(workflowId) ?? {};
    if (scenario.fail?.activity === key && !failed.has(workflowId)) {
      failed.add(workflowId);
      throw ApplicationFailure.nonRetryable(scenario.fail.message, scenario.fail.type);
    }
    if (scenario.hold === key && !held.has(workflowId)) {
      held.add(workflowId);
      // A cancellation reaches an activity through its heartbeats only.
      const beat = setInterval(() => context.heartbeat(), 500);
      try {
        await Promise.race([context.cancelled, new Promise<void>((resolve) => releases.set(workflowId, resolve))]);
      } finally {
        clearInterval(beat);
      }
    }
    return scenario;
  };

  const activities = {
    async checkPreflight({ request }: PreflightInput): Promise<PreflightReport> {
      const scenario = await called('checkPreflight');
      if (scenario.refuse) throw ApplicationFailure.nonRetryable(scenario.refuse, 'PreflightFailed');
      const pods = request.pods ?? scenario.deployedPods ?? ['database', 'core', 'temporal', 'seal-gateway'];
      return {
        profile: 'development',
        fromVersion: scenario.runningVersion ?? '1.2.0',
        toVersion: request.targetVersion,
        pods,
        images: [],
        checks: ['stand-in platform'],
        databaseBytes: 1024,
        alreadyAtTarget: (scenario.runningVersion ?? '1.2.0') === request.targetVersion,
      };
    },
    async pinRunningImages() {
      await called('pinRunningImages');
      return [];
    },
    async pullImages({ tag }: { tag: string }) {
      await called('pullImages');
      return [{ image: `aegis-runtime:${tag}`, digest: `sha256:${'0'.repeat(64)}` }];
    },
    async backUpDatabases({ backupId }: { backupId: string }) {
      await called('backUpDatabases');
      return { location: `/var/backups/aegis/${backupId}`, files: [] };
    },
    async snapshotMigrations() {
      await called('snapshotMigrations');
      return [{ version: 1, description: 'init', success: true, checksum: '00' }];
    },
    async setImageTag() {
      const scenario = await called('setImageTag');
      return scenario.runningVersion ?? '1.2.0';
    },
    async redeployPod({ pod }: { pod: PodName }) {
      await called('redeployPod', pod);
      return { startedAt: new Date().toISOString(), skipped: false };
    },
    async awaitPodReady({ pod }: { pod: PodName }) {
      await called('awaitPodReady', pod);
      return `${pod} ready`;
    },
    async awaitMigrations() {
      await called('awaitMigrations');
      return [2];
    },
    async redeployPlatform() {
      await called('redeployPlatform');
    },
    async validatePlatform() {
      await called('validatePlatform');
      return 'all services healthy';
    },
    async restorePinnedImages({ previousTag }: { previousTag: string }) {
      await called('restorePinnedImages');
      return previousTag;
    },
    async restoreDatabase() {
      await called('restoreDatabase');
      return { restored: true, reason: 'schema moved: restored' };
    },
    async releaseUpgradeLock() {
      await called('releaseUpgradeLock');
    },
    async backUpFinal({ backup }: { backup: BackupRecord }): Promise<BackupRecord> {
      await called('backUpFinal');
      return { ...backup, final: { takenAt: new Date().toISOString(), files: [] } };
    },
    async resumeWriters() {
      await called('resumeWriters');
      return [];
    },
  } satisfies Partial<UpgradeActivities>;

  return {
    activities,
    /** Every activity the upgrade `workflowId` called, in order (`redeployPod:core`). */
    calls: (workflowId: string) => calls.get(workflowId) ?? [],
    /** True once the scenario's held activity is running. */
    holding: (workflowId: string) => held.has(workflowId),
    /** Lets the held activity of `workflowId` complete. */
    release: (workflowId: string) => releases.get(workflowId)?.(),
  };
}

/**
 * The fleet upgrade's public surface: workflow type, task queue, messages, and the shapes of its input and progress.
 * The worker, the CLI and the tests import these; none repeats a string.
 *
 * Designed for fleets of up to 1000 environments: the progress (about 100 bytes an environment) travels in the input
 * of each run, and a run holds one wave (see workflows/upgrade-fleet.ts for the history bound).
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { OperatorAction } from './operator-actions';
import { DEFAULT_TASK_QUEUE, type UpgradeRequest } from './upgrade';

export const FLEET_WORKFLOW_TYPE = 'upgradeFleet';

/** The most environments a fleet takes: its progress is carried from run to run in the workflow's input. */
export const FLEET_SIZE_LIMIT = 1000;

/** What a wave does when more of its environments failed than the budget tolerates. */
export type BudgetPolicy = 'stop' | 'roll-back-wave';

/** The options of each environment's upgrade, passed through to `upgradePlatform` (checked by parseUpgradeRequest). */
export type FleetUpgradeOptions = Omit<UpgradeRequest, 'targetVersion' | 'dryRun' | 'restoreFrom'>;

/** The fleet's input; `parseFleetRequest` (fleet-request.ts) checks it whole before anything runs. */
export interface FleetRequest extends FleetUpgradeOptions {
  /** The AEGIS image tag every environment is upgraded to, e.g. `1.3.0`. */
  targetVersion: string;
  /** The environments, in the order their waves take them. */
  environments: string[];
  /** The first wave, alone. `[]`: no canary wave. @default the first environment */
  canary?: string[];
  /** How many environments each wave after the canary takes. @default all the rest, in one wave */
  waveSize?: number;
  /** Each wave's share of the fleet, e.g. `25%` (rounded up); instead of `waveSize`. */
  waveShare?: string;
  /** How many upgrades of a wave run at once. @default the whole wave */
  maxConcurrent?: number;
  /** How long each wave's upgraded environments must stay healthy before the next wave (e.g. `15 minutes`). @default none */
  bake?: string;
  /** Wait for `fleet approve` (the `approveWave` signal) before each wave after the first. @default false */
  approveBetweenWaves?: boolean;
  /** Failures a wave after the canary's tolerates: failed upgrades and health lost while baking. @default 0 */
  failureBudget?: number;
  /** Failures the canary wave tolerates: its own budget, so a failed canary stops the fleet. @default 0 */
  canaryFailureBudget?: number;
  /** What a wave over budget does: stop, or also roll back its environments that were upgraded. @default 'stop' */
  onBudgetExceeded?: BudgetPolicy;
  /**
   * roll-back-wave restores each upgraded environment's pre-upgrade dump, discarding every write since (the bake may
   * last 7 days). Without this, it rolls the images back and keeps the data, and an environment whose upgrade migrated
   * the schema is left on the new version, the fleet stopped naming the choice. @default false
   */
  restoreDatabaseOnWaveRollback?: boolean;
  /**
   * How long each environment's upgrade may wait for its worker to take it (e.g. `10 minutes`; 5 seconds to 1 day).
   * Past it, the upgrade is cancelled and counts against the wave's budget. @default DEFAULT_UPGRADE_START_DEADLINE
   */
  upgradeStartDeadline?: string;
}

/** A live worker takes an upgrade within seconds; ten minutes covers a worker restarting, not one that is down. */
export const DEFAULT_UPGRADE_START_DEADLINE = '10 minutes';

/** Failure types a fleet ends with; the CLI and the tests match on them. */
export const FleetFailureType = {
  /** The request is not a fleet: nothing was started. */
  FleetRefused: 'FleetRefused',
  /** A wave went over its failure budget (or an operator aborted): no upgrade started since; the rest left as it was. */
  FleetStopped: 'FleetStopped',
  /** A wave went over its failure budget and its upgraded environments were rolled back to their previous versions. */
  FleetRolledBack: 'FleetRolledBack',
} as const;

/**
 * Where an environment stands in the fleet. The fleet's own coarse view: `aegis-upgrade status --env X` shows the
 * steps of X's upgrade. `rolled-back`: its upgrade rolled back, or the fleet rolled it back to its previous version.
 */
export type FleetEnvironmentPhase =
  'pending' | 'upgrading' | 'baking' | 'completed' | 'rolling-back' | 'rolled-back' | 'failed' | 'skipped';

export interface FleetEnvironmentProgress {
  environment: string;
  /** Its wave, from 0 (the canary wave when there is one). */
  wave: number;
  phase: FleetEnvironmentPhase;
  /** The version it ran before the fleet upgraded it. */
  fromVersion?: string;
  /** Why it counted against its wave's failure budget: its upgrade failed, or its health was lost while baking. */
  failure?: string;
  /** One short line: why it failed, what rolled it back. */
  detail?: string;
}

export type FleetPhase =
  'upgrading' | 'baking' | 'waiting-for-approval' | 'rolling-back' | 'completed' | 'stopped' | 'rolled-back';

export interface FleetProgress {
  targetVersion: string;
  phase: FleetPhase;
  /** The wave running now (or the last one), from 0. */
  wave: number;
  waves: number;
  environments: FleetEnvironmentProgress[];
  /** Runs of the fleet workflow so far (it continues as new between waves). */
  run: number;
  /** Each wave released by `fleet approve`: by whom, why, when (absent before the first). */
  approvals?: FleetApprovalRecord[];
}

/** An approval of the wait before wave `wave` (from 0, as `FleetEnvironmentProgress.wave`). */
export interface FleetApprovalRecord extends OperatorAction {
  wave: number;
  at: string;
}

/** The lists of a fleet's summary, by where each environment ended: each environment is in exactly one. */
const SUMMARY: readonly [string, readonly FleetEnvironmentPhase[]][] = [
  ['Failed', ['failed']],
  ['Rolled back', ['rolled-back']],
  ['Upgraded', ['completed']],
  ['Still running', ['upgrading', 'baking', 'rolling-back']],
  ['Never started', ['pending', 'skipped']],
];

/** `Failed: eu (why). Rolled back: us. Upgraded: canary. …`: each environment once, with why it failed. */
export function summarizeFleet(progress: FleetProgress): string {
  return SUMMARY.flatMap(([title, phases]) => {
    const entries = progress.environments.filter((entry) => phases.includes(entry.phase));
    if (entries.length === 0 && title === 'Still running') return [];
    const named = entries.map((entry) => {
      const why = entry.failure ?? (entry.phase === 'failed' || entry.phase === 'skipped' ? entry.detail : undefined);
      return why ? `${entry.environment} (${why})` : entry.environment;
    });
    return [`${title}: ${named.length > 0 ? named.join(', ') : 'none'}`];
  }).join('. ');
}

/** Fleet IDs: `aegis-fleet-<name>`; no environment is named in them, so no environment's worker takes their work. */
const FLEET_ID_PREFIX = 'aegis-fleet-';

export function fleetWorkflowId(name: string): string {
  return `${FLEET_ID_PREFIX}${name}`;
}

/**
 * The queue the fleet workflows run on: every worker polls it too, for workflows only, so any live worker drives a
 * fleet; each environment's upgrade and health checks go to that environment's own queue. The `.` keeps it apart from
 * every environment's queue (`<defaultQueue>-<env>`): an environment name has no dot.
 */
export function fleetTaskQueue(defaultQueue = DEFAULT_TASK_QUEUE): string {
  return `${defaultQueue}${FLEET_QUEUE_SUFFIX}`;
}

const FLEET_QUEUE_SUFFIX = '.fleet';

/** The default queue a fleet queue derives from (a fleet started on another queue takes it as the default queue). */
export function defaultQueueOfFleet(fleetQueue: string): string {
  return fleetQueue.endsWith(FLEET_QUEUE_SUFFIX) ? fleetQueue.slice(0, -FLEET_QUEUE_SUFFIX.length) : fleetQueue;
}

export const fleetProgressQuery = defineQuery<FleetProgress>('fleetProgress');
/** An environment's upgrade, started by the fleet, tells it a worker took it: the upgrade's workflow ID. */
export const upgradeStartedSignal = defineSignal<[string]>('upgradeStarted');
/** Releases the fleet's wait before its next wave (with `approveBetweenWaves`). */
/** Releases the wait before the next wave: who and why (`{"by":…,"reason":…}`, read by `parseOperatorAction`). */
export const approveWaveSignal = defineSignal<[OperatorAction?]>('approveWave');

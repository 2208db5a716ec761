import {
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowCancellationType,
  ChildWorkflowFailure,
  ParentClosePolicy,
  condition,
  continueAsNew,
  isCancellation,
  patched,
  proxyActivities,
  setHandler,
  sleep,
  startChild,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { UpgradeActivities } from '../activities';
import { taskQueueFor } from '../core/environments';
import {
  FleetFailureType,
  approveWaveSignal,
  defaultQueueOfFleet,
  fleetProgressQuery,
  summarizeFleet,
  upgradeStartedSignal,
  type FleetEnvironmentProgress,
  type FleetProgress,
  type FleetRequest,
} from '../core/fleet';
import {
  InvalidFleetRequest,
  parseFleetRequest,
  upgradeOptionsOf,
  type ParsedFleetRequest,
} from '../core/fleet-request';
import { parseOperatorAction } from '../core/operator-actions';
import { startSearchAttributes } from '../core/search-attributes';
import {
  UpgradeFailureType,
  upgradeWorkflowId,
  type UpgradeMemo,
  type UpgradeReport,
  type UpgradeRequest,
} from '../core/upgrade';
import { Patch } from './patches';
import { errorMessage } from './progress';
import { upgradePlatform } from './upgrade-platform';
import { fromLabel } from '../core/platform';
import { backupName } from '../core/rollback-target';

/**
 * History bound. A run holds one wave: its upgrades (about 10 events each: the child's start and end, the workflow
 * tasks they wake) and its bake's health checks (about 4 events an environment a round). Past HISTORY_BOUND events a
 * bake continues as new between rounds; the upgrades of a wave cannot (a run awaits its children), so a wave of 1000
 * environments, the design limit (FLEET_SIZE_LIMIT), stays near 10,000 + one round: far below Temporal's 51,200.
 */
const HISTORY_BOUND = 10_000;
/** A bake checks health every minute, or every thirtieth of the bake when longer: at most 30 rounds. */
const BAKE_CHECK_INTERVAL_MS = 60_000;
const BAKE_CHECK_ROUNDS = 30;

/** A health check is read only and short; a worker that does not answer it within minutes counts as health lost. */
const HEALTH_CHECK: ActivityOptions = {
  startToCloseTimeout: '5 minutes',
  scheduleToCloseTimeout: '10 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { maximumAttempts: 3 },
};

/** What a run hands the next: the progress, and the bake under way when a bake continued as new. */
export interface FleetCarry {
  progress: FleetProgress;
  bakeUntil?: number;
  /** The wave's upgraded environments, by name, when a bake continued as new: a rollback needs them. */
  upgraded?: Record<string, Upgraded>;
}

/** What the fleet keeps of a completed upgrade of this run's wave, to roll it back. */
interface Upgraded {
  fromVersion: string;
  /** The upgrade's backup directory name: the pre-flight refuses a downgrade that names none (checkDowngrade). */
  restoreFrom?: string;
  /** Its upgrade applied migrations: going back keeps the data only by restoring the backup. */
  schemaMoved?: boolean;
}

/**
 * Upgrades environments to one version in waves (fleet.ts), each environment's upgrade the usual `upgradePlatform` as
 * a child with that environment's ID and queue. One wave per run: it continues as new between waves.
 *
 * Children are ABANDONed when the fleet closes: an upgrade holds its deployment's lock with pods on two versions while
 * it runs, and terminating it (TERMINATE) would leave it so; cancelling it (REQUEST_CANCEL) would roll back upgrades
 * that may be healthy and nearly done. Each finishes on its own, seen and aborted by `status|abort --env X`. The fleet
 * never closes with children running either: a run awaits its wave, and an abort stops only new upgrades.
 */
export async function upgradeFleet(input: FleetRequest, carried?: FleetCarry): Promise<FleetProgress> {
  const request = parsedOrRefused(input);
  const fleet = new FleetRun(request, carried);
  const wave = fleet.progress.wave;
  try {
    if (carried?.bakeUntil === undefined) {
      if (wave > 0 && request.approveBetweenWaves) await fleet.awaitApproval();
      await CancellationScope.nonCancellable(() => fleet.upgradeWave());
    }
    if (!fleet.overBudget() && request.bakeMs > 0 && !fleet.aborted) {
      await fleet.bake(carried?.bakeUntil ?? Date.now() + request.bakeMs, input);
    }
  } catch (error) {
    if (!isCancellation(error)) throw error;
  }
  if (fleet.overBudget()) throw await CancellationScope.nonCancellable(() => fleet.stopOverBudget());
  if (fleet.aborted) throw fleet.stop(FleetFailureType.FleetStopped, 'an operator aborted it');
  fleet.wavePassed();
  if (wave + 1 >= request.waves.length) {
    fleet.progress.phase = 'completed';
    return fleet.progress;
  }
  fleet.progress.wave = wave + 1;
  fleet.progress.run += 1;
  return continueAsNew<typeof upgradeFleet>(input, { progress: fleet.progress });
}

function parsedOrRefused(input: FleetRequest): ParsedFleetRequest {
  try {
    return parseFleetRequest(input);
  } catch (error) {
    if (!(error instanceof InvalidFleetRequest)) throw error;
    throw ApplicationFailure.create({
      type: FleetFailureType.FleetRefused,
      message: `Fleet request refused, nothing was started: ${error.message}`,
      nonRetryable: true,
    });
  }
}

/** How runUpgrade says an upgrade was cancelled before a worker took it. */
const NOT_STARTED = 'UpgradeNotStarted';

/** One run of the fleet: its wave's upgrades, bake, and what a wave over budget does. */
class FleetRun {
  readonly progress: FleetProgress;
  /** An operator cancelled the fleet: no new upgrade starts. */
  aborted = false;
  private approved = false;
  private readonly defaultQueue = defaultQueueOfFleet(workflowInfo().taskQueue);
  private readonly upgraded: Map<string, Upgraded>;
  /** Upgrades (by workflow ID) a worker took since the fleet started them. */
  private readonly started = new Set<string>();
  /** Failures this run's wave tolerates. */
  private readonly budget: number;

  constructor(
    private readonly request: ParsedFleetRequest,
    carried?: FleetCarry,
  ) {
    this.upgraded = new Map(Object.entries(carried?.upgraded ?? {}));
    this.progress = carried?.progress ?? {
      targetVersion: request.targetVersion,
      phase: 'upgrading',
      wave: 0,
      waves: request.waves.length,
      environments: request.waves.flatMap((names, wave) =>
        names.map((environment): FleetEnvironmentProgress => ({ environment, wave, phase: 'pending' })),
      ),
      run: 1,
    };
    this.budget = this.budgetOfWave(this.progress.wave);
    setHandler(fleetProgressQuery, () => this.progress);
    setHandler(upgradeStartedSignal, (workflowId) => void this.started.add(workflowId));
    setHandler(approveWaveSignal, (input) => {
      if (this.progress.phase !== 'waiting-for-approval' || this.approved) return;
      this.approved = true;
      // An approval from a client that sent nothing, or something unreadable, still releases the wave: who is unknown.
      const action = parseOperatorAction(input);
      const { by, reason } = typeof action === 'string' ? {} : action;
      const record = {
        wave: this.progress.wave,
        ...(by && { by }),
        ...(reason && { reason }),
        at: new Date().toISOString(),
      };
      this.progress.approvals = [...(this.progress.approvals ?? []), record];
    });
    CancellationScope.current().cancelRequested.catch(() => (this.aborted = true));
  }

  private get wave(): FleetEnvironmentProgress[] {
    return this.progress.environments.filter((entry) => entry.wave === this.progress.wave);
  }

  private failures(): number {
    return this.wave.filter((entry) => entry.failure !== undefined).length;
  }

  overBudget(): boolean {
    return this.failures() > this.budget;
  }

  /** The canary wave has its own budget; fleets started before it had the waves' budget there too. */
  private budgetOfWave(wave: number): number {
    const { hasCanary, failureBudget, canaryFailureBudget } = this.request;
    if (wave !== 0 || !hasCanary || failureBudget === canaryFailureBudget) return failureBudget;
    return patched(Patch.canaryFailureBudget) ? canaryFailureBudget : failureBudget;
  }

  async awaitApproval(): Promise<void> {
    this.progress.phase = 'waiting-for-approval';
    await condition(() => this.approved);
  }

  /** Starts the wave's upgrades, at most `maxConcurrent` at once, none once the wave is over budget or aborted. */
  async upgradeWave(): Promise<void> {
    this.progress.phase = 'upgrading';
    await this.inLanes(
      this.wave,
      (entry) => this.upgrade(entry),
      () => this.overBudget() || this.aborted,
    );
  }

  private async inLanes(
    entries: FleetEnvironmentProgress[],
    each: (entry: FleetEnvironmentProgress) => Promise<void>,
    stopStarting: () => boolean = () => false,
  ): Promise<void> {
    const waiting = [...entries];
    const lane = async () => {
      for (let entry = waiting.shift(); entry; entry = waiting.shift()) {
        if (stopStarting()) return;
        await each(entry);
      }
    };
    const lanes = Math.min(this.request.maxConcurrent ?? entries.length, entries.length);
    await Promise.all(Array.from({ length: lanes }, lane));
  }

  private async upgrade(entry: FleetEnvironmentProgress): Promise<void> {
    entry.phase = 'upgrading';
    const request: UpgradeRequest = { ...upgradeOptionsOf(this.request), targetVersion: this.request.targetVersion };
    const outcome = await this.runUpgrade(entry.environment, request);
    if (outcome.report) entry.fromVersion = fromLabel(outcome.report);
    if (outcome.failure?.type === NOT_STARTED && this.aborted) {
      entry.phase = 'skipped';
      entry.detail = outcome.failure.message;
      return;
    }
    if (outcome.failure) {
      entry.phase = outcome.failure.type === UpgradeFailureType.UpgradeRolledBack ? 'rolled-back' : 'failed';
      entry.failure = outcome.failure.message;
      entry.detail = outcome.failure.message;
      return;
    }
    const report = outcome.report as UpgradeReport;
    entry.phase = 'completed';
    if (report.fromVersion !== undefined && report.fromVersion !== report.toVersion) {
      const backup = backupName(report);
      this.upgraded.set(entry.environment, {
        fromVersion: report.fromVersion,
        ...(backup && { restoreFrom: backup }),
        schemaMoved: report.migrationsApplied.length > 0,
      });
    }
  }

  /** One upgrade of an environment as a child: its report, or how it failed (with the report when it has one). */
  private async runUpgrade(
    environment: string,
    request: UpgradeRequest,
  ): Promise<{ report?: UpgradeReport; failure?: { type: string; message: string } }> {
    const workflowId = upgradeWorkflowId(environment);
    const taskQueue = taskQueueFor(environment, this.defaultQueue);
    const scope = new CancellationScope();
    this.started.delete(workflowId);
    try {
      const child = await scope.run(() =>
        startChild(upgradePlatform, {
          workflowId,
          taskQueue,
          args: [request],
          parentClosePolicy: ParentClosePolicy.ABANDON,
          // A cancelled upgrade that no worker took is not waited for: its worker may never come.
          cancellationType: ChildWorkflowCancellationType.TRY_CANCEL,
          // As `aegis-upgrade start` names its upgrades: `status`, `history` and `environments` find it the same way.
          memo: { environment, toVersion: request.targetVersion } satisfies Partial<UpgradeMemo>,
          typedSearchAttributes: startSearchAttributes(environment, request.targetVersion),
        }),
      );
      if (patched(Patch.fleetUpgradeStartDeadline)) {
        await condition(() => this.started.has(workflowId) || this.aborted, this.request.upgradeStartDeadlineMs);
        if (!this.started.has(workflowId)) {
          scope.cancel();
          await child.result().catch(() => undefined);
          const why = this.aborted
            ? 'the fleet was aborted before a worker took its upgrade'
            : `its upgrade did not start within ${this.request.upgradeStartDeadline}: no worker took it from queue ${taskQueue}`;
          return { failure: { type: NOT_STARTED, message: `${why}; ${workflowId} was cancelled` } };
        }
      }
      return { report: await child.result() };
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError) {
        const message = `another upgrade of ${environment} is running (${upgradeWorkflowId(environment)}): the fleet started none`;
        return { failure: { type: 'UpgradeAlreadyRunning', message } };
      }
      const cause = error instanceof ChildWorkflowFailure ? error.cause : undefined;
      if (cause instanceof ApplicationFailure) {
        const report = cause.details?.[0] as UpgradeReport | undefined;
        return { report, failure: { type: cause.type ?? 'Error', message: cause.message } };
      }
      return { failure: { type: 'Error', message: errorMessage(error) } };
    }
  }

  /** The wave's upgraded environments must stay healthy until `until`; continues as new when the history is long. */
  async bake(until: number, input: FleetRequest): Promise<void> {
    this.progress.phase = 'baking';
    for (const entry of this.wave) if (entry.phase === 'completed') entry.phase = 'baking';
    const interval = Math.min(
      this.request.bakeMs,
      Math.max(BAKE_CHECK_INTERVAL_MS, this.request.bakeMs / BAKE_CHECK_ROUNDS),
    );
    while (Date.now() < until && !this.overBudget()) {
      const info = workflowInfo();
      if (info.historyLength > HISTORY_BOUND || info.continueAsNewSuggested) {
        const upgraded = Object.fromEntries(this.upgraded);
        this.progress.run += 1;
        await continueAsNew<typeof upgradeFleet>(input, { progress: this.progress, bakeUntil: until, upgraded });
      }
      await sleep(Math.min(interval, until - Date.now()));
      await Promise.all(this.wave.filter((entry) => entry.phase === 'baking').map((entry) => this.checkHealth(entry)));
    }
  }

  private async checkHealth(entry: FleetEnvironmentProgress): Promise<void> {
    const { environment } = entry;
    const { checkHealth } = proxyActivities<UpgradeActivities>({
      ...HEALTH_CHECK,
      taskQueue: taskQueueFor(environment, this.defaultQueue),
    });
    let problem: string | undefined;
    try {
      const health = await checkHealth({ environment });
      problem =
        health.version !== this.request.targetVersion
          ? `it runs ${health.version}, not ${this.request.targetVersion}`
          : health.problems.join('; ') || undefined;
    } catch (error) {
      if (isCancellation(error)) throw error;
      problem = `its health check failed: ${errorMessage(error)}`;
    }
    if (problem) {
      entry.phase = 'failed';
      entry.failure = `health lost while baking: ${problem}`;
      entry.detail = entry.failure;
    }
  }

  /** The wave stayed within budget: its upgraded environments are done. */
  wavePassed(): void {
    for (const entry of this.wave) if (entry.phase === 'baking') entry.phase = 'completed';
  }

  /** No new upgrade starts; by policy, the wave's upgraded environments go back to their versions. Returns the failure. */
  async stopOverBudget(): Promise<ApplicationFailure> {
    const canary = this.progress.wave === 0 && this.request.hasCanary ? " (the canary's)" : '';
    const why = `wave ${this.progress.wave + 1} of ${this.progress.waves}${canary} went over its failure budget of ${this.budget}`;
    if (this.request.onBudgetExceeded !== 'roll-back-wave') return this.stop(FleetFailureType.FleetStopped, why);
    this.progress.phase = 'rolling-back';
    const toRollBack = this.wave.filter((entry) => this.upgraded.has(entry.environment));
    const keepData = !this.request.restoreDatabaseOnWaveRollback && patched(Patch.waveRollbackKeepsData);
    const migrated = keepData ? toRollBack.filter((entry) => this.upgradeOf(entry).schemaMoved !== false) : [];
    await this.inLanes(
      toRollBack.filter((entry) => !migrated.includes(entry)),
      (entry) => this.rollBack(entry, keepData),
    );
    if (migrated.length > 0) return this.stop(FleetFailureType.FleetStopped, `${why}; ${this.choiceFor(migrated)}`);
    return this.stop(FleetFailureType.FleetRolledBack, why);
  }

  private upgradeOf(entry: FleetEnvironmentProgress): Upgraded {
    return this.upgraded.get(entry.environment) as Upgraded;
  }

  /** Environments whose upgrade migrated the schema: going back discards what was written since, so an operator says. */
  private choiceFor(migrated: FleetEnvironmentProgress[]): string {
    const named = migrated.map(
      (entry) => `${entry.environment} (backup ${this.upgradeOf(entry).restoreFrom ?? 'none'})`,
    );
    return (
      `not rolled back, as their upgrade migrated the schema: ${named.join(', ')}. Going back restores that backup and ` +
      `discards every write since it was taken: downgrade each with its backup as \`restoreFrom\`, or start the fleet ` +
      `again with \`restoreDatabaseOnWaveRollback\`; else they stay on ${this.request.targetVersion}`
    );
  }

  /**
   * A completed upgrade of this wave undone: an upgrade back to its previous version, naming its own backup (the
   * pre-flight's rule), restored unless `keepData` (then only if the schema moved after all: restoreDatabase never).
   */
  private async rollBack(entry: FleetEnvironmentProgress, keepData: boolean): Promise<void> {
    const upgraded = this.upgradeOf(entry);
    // A rollback waits at no approval gate: the wave is already over its budget.
    const options = upgradeOptionsOf(this.request);
    delete options.approveBefore;
    delete options.approvalTimeout;
    entry.phase = 'rolling-back';
    const outcome = await this.runUpgrade(entry.environment, {
      ...options,
      targetVersion: upgraded.fromVersion,
      ...(upgraded.restoreFrom && { restoreFrom: upgraded.restoreFrom }),
      ...(keepData && { restoreDatabase: 'never' }),
    });
    const restored = !upgraded.restoreFrom
      ? ''
      : keepData
        ? ', its data kept'
        : `, database restored from ${upgraded.restoreFrom} (the writes since it was taken discarded)`;
    if (outcome.failure) {
      entry.phase = 'failed';
      entry.detail = `the fleet's rollback to ${upgraded.fromVersion} failed: ${outcome.failure.message}`;
    } else {
      entry.phase = 'rolled-back';
      entry.detail = `rolled back by the fleet to ${upgraded.fromVersion}${restored}${entry.detail ? ` (${entry.detail})` : ''}`;
    }
  }

  /** The fleet's end short of its target: what failed, what was rolled back, what never started. */
  stop(type: string, why: string): ApplicationFailure {
    for (const entry of this.progress.environments) if (entry.phase === 'pending') entry.phase = 'skipped';
    this.wavePassed();
    this.progress.phase = type === FleetFailureType.FleetRolledBack ? 'rolled-back' : 'stopped';
    return ApplicationFailure.create({
      type,
      message:
        `Fleet to ${this.request.targetVersion} ${type === FleetFailureType.FleetRolledBack ? 'rolled back its wave' : 'stopped'}: ${why}. ` +
        summarizeFleet(this.progress),
      nonRetryable: true,
      details: [this.progress],
    });
  }
}

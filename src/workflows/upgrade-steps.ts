import {
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  patched,
  setHandler,
  upsertMemo,
  workflowInfo,
} from '@temporalio/workflow';
import type { PreflightReport } from '../activities/preflight';
import { parseAbortRequest, type AbortRequest } from '../core/operator-actions';
import { fromLabel, HOST_CLI, shortDigest, type PodName } from '../core/platform';
import {
  UpgradeFailureType,
  abortReasonSignal,
  approveSignal,
  environmentOf,
  progressQuery,
  type BackupRecord,
  type UpgradeMemo,
  type UpgradeOutcome,
  type UpgradePhase,
  type UpgradeReport,
  type UpgradeRequest,
} from '../core/upgrade';
import type { UpgradeLockOwner } from '../core/upgrade-lock';
import { parseUpgradeRequest, requestedVersion, type ParsedUpgradeRequest } from '../core/upgrade-request';
import { databaseChange, preflightCheck, quick, redeploy, transfer } from './activity-options';
import { ApprovalGates } from './approvals';
import { refusedAsWrongEnvironment } from './environment';
import { upgradeLockOwner } from './lock';
import { UpgradeNotifier } from './notifications';
import { Patch } from './patches';
import { ProgressLog, errorMessage } from './progress';
import { settleAll } from '../core/settle-all';
import { showCurrentDetails, upsertUpgradeAttributes } from './upgrade-attributes';
import { lockNotReleased, rollbackPinTag, type UpgradeChanges } from './rollback';
import type { PlannedStep } from './runner';
import { recordPhase, stepTelemetry } from './telemetry';

/**
 * One upgrade as it runs, from its first line: its progress, report, approval gates and lock, shared by its steps.
 * `Input` is the workflow's request as it came (an AEGIS upgrade's or a component's), not yet parsed.
 */
export class UpgradeRun<Input = unknown> {
  readonly workflowId: string;
  readonly startTime: Date;
  readonly lockOwner: UpgradeLockOwner;
  /** Counted started once, at the first phase past its pre-flight (the metrics). */
  readonly started = { counted: false };
  readonly progress: ProgressLog;
  readonly report: UpgradeOutcome = { images: [], migrationsApplied: [], databaseRestored: false };
  readonly gates: ApprovalGates;
  readonly notifier = new UpgradeNotifier(this);
  /** Who aborted and why, when an operator said so before cancelling. */
  abort?: AbortRequest;

  /**
   * Answers the `progress` query and takes the `approve` and `abortReason` signals from now on. `toVersion` is what the
   * progress, memo and search attributes name as the target (a component upgrade's names its component).
   */
  constructor(
    readonly input: Input,
    toVersion = requestedVersion(input),
  ) {
    const { workflowId, startTime } = workflowInfo();
    this.workflowId = workflowId;
    this.startTime = startTime;
    this.lockOwner = upgradeLockOwner();
    this.progress = new ProgressLog(toVersion, stepTelemetry(workflowId, input));
    this.gates = new ApprovalGates((note) => this.progress.notes.push(note), this.progress.approvals);
    setHandler(progressQuery, () => this.progress.snapshot());
    setHandler(approveSignal, (approval) => this.gates.receive(approval));
    setHandler(abortReasonSignal, (input) => {
      const request = parseAbortRequest(input);
      if (typeof request === 'string') this.progress.notes.push(`Abort reason refused: ${request}`);
      else this.abort = request;
    });
    this.progress.onStepChange = () => showCurrentDetails(environmentOf(this.workflowId), this.progress.snapshot());
  }

  /** Enters `phase` and shows it in the memo, the search attributes and the UI's current details. */
  announce(phase: UpgradePhase): void {
    this.progress.phase = phase;
    const memo: UpgradeMemo = {
      environment: environmentOf(this.workflowId),
      fromVersion: fromLabel(this.progress),
      toVersion: this.progress.toVersion,
      outcome: phase,
    };
    upsertMemo({ ...memo });
    this.notifier.phaseEntered(phase);
    recordPhase(this, phase);
    upsertUpgradeAttributes({ ...memo, phase }, this.input);
    showCurrentDetails(memo.environment, this.progress.snapshot());
  }

  fullReport(): UpgradeReport {
    return { ...this.progress.snapshot(), ...this.report };
  }

  /** A lock that cannot be released changes nothing of the upgrade's outcome: it stays, and the report says so. */
  releaseLock(): Promise<void> {
    return CancellationScope.nonCancellable(() => quick.releaseUpgradeLock({ owner: this.lockOwner })).catch(
      (error: unknown) =>
        void (this.report.lockNotReleased = lockNotReleased(errorMessage(error), environmentOf(this.workflowId))),
    );
  }
}

/** A request pre-flight accepted, with what pre-flight found. */
export interface AcceptedRequest {
  request: ParsedUpgradeRequest;
  preflight: PreflightReport;
}

/** An upgrade past pre-flight: what its steps read, and the changes a rollback undoes. */
export interface Upgrade extends AcceptedRequest {
  run: UpgradeRun<UpgradeRequest>;
  changes: UpgradeChanges;
}

/** What Step 3 starts from: the backup of Step 2 and the migrations the database had before the new runtime. */
export interface Baseline {
  backup: BackupRecord;
  migrationsBefore: number[];
}

/**
 * Step 1: parses the request and runs pre-flight, which takes the lock (read-only for a dry run). A request refused,
 * a failed check or a cancel fails the upgrade as PreflightFailed, nothing changed and the lock released.
 */
export async function runPreflight(run: UpgradeRun): Promise<AcceptedRequest> {
  return checkBeforeChanging(
    run,
    async (lockRequested) => {
      const request = parseUpgradeRequest(run.input);
      lockRequested(!request.dryRun);
      const preflight = await preflightCheck.checkPreflight({
        request,
        lockOwner: run.lockOwner,
        readOnly: request.dryRun,
      });
      return { request, preflight };
    },
    ({ preflight }) => preflight.checks.join('; '),
  );
}

/**
 * The pre-flight step of any upgrade: `check` parses its request and runs its checks, saying first whether they take
 * the lock. A refusal, a failed check or a cancel fails the upgrade as PreflightFailed, the lock released if taken.
 */
export async function checkBeforeChanging<T>(
  run: UpgradeRun,
  check: (lockRequested: (requested: boolean) => void) => Promise<T>,
  describe: (accepted: T) => string,
): Promise<T> {
  const { progress } = run;
  progress.plan([{ id: 'preflight', title: 'Pre-flight checks' }]);
  let lockRequested = false;
  try {
    return await progress.run(
      'preflight',
      async () => {
        const accepted = await check((requested) => void (lockRequested = requested));
        // A cancel that came while it ran ends the upgrade here, nothing changed: the lock it took is released below.
        if (CancellationScope.current().consideredCancelled) {
          throw new CancelledFailure('the upgrade was cancelled during pre-flight; nothing was changed');
        }
        return accepted;
      },
      describe,
    );
  } catch (error) {
    run.announce('refused');
    // A pre-flight that failed or was cancelled after taking the lock must not leave it behind.
    if (lockRequested && !(refusedAsWrongEnvironment(error) && patched(Patch.wrongEnvironmentTookNoLock))) {
      await run.releaseLock();
    }
    const unreleased = run.report.lockNotReleased ? `; ${run.report.lockNotReleased}` : '';
    throw ApplicationFailure.create({
      type: UpgradeFailureType.PreflightFailed,
      message: `Pre-flight refused the upgrade to ${progress.toVersion}: ${errorMessage(error)}${unreleased}`,
      nonRetryable: true,
      details: [run.fullReport()],
    });
  }
}

/** The backup's directory name: when the upgrade started, and what from and to (`20261126T031500Z-1.2.0-to-1.3.0`). */
export function backupIdOf(run: UpgradeRun, from: string, to: string): string {
  return `${run.startTime.toISOString().replace(/[-:]|\.\d+/g, '')}-${from}-to-${to}`;
}

/** Step 4: the platform validated, the upgrade completed and its lock released. */
export async function validateAndComplete(run: UpgradeRun): Promise<UpgradeReport> {
  await run.progress.run('validate', () => redeploy.validatePlatform());
  run.announce('completed');
  await run.releaseLock();
  return run.fullReport();
}

/** A dry run's answer: what the upgrade would do, from pre-flight's read-only checks; nothing was locked. */
export function reportPlan(run: UpgradeRun, { request, preflight }: AcceptedRequest): UpgradeReport {
  const { pods } = preflight;
  run.report.plan = {
    pods,
    ...(preflight.unchangedPods?.length && { unchangedPods: preflight.unchangedPods }),
    images: preflight.images,
    checks: preflight.checks,
    backupEstimateBytes: preflight.databaseBytes,
    restorePossible: pods.includes('core') && request.restoreDatabase !== 'never',
    ...(request.approveBefore.length > 0 && { approvalTimeout: request.approvalTimeout }),
  };
  run.announce('planned');
  return run.fullReport();
}

/** A target equal to the running version: the upgrade completes after pre-flight, having changed nothing. */
export async function completeAtTarget(run: UpgradeRun): Promise<UpgradeReport> {
  run.progress.notes.push(`Already at ${run.progress.toVersion}: nothing pulled, backed up, changed or redeployed`);
  run.announce('completed');
  await run.releaseLock();
  return run.fullReport();
}

/** Pods the new tag leaves as they are: not redeployed, their planned step says why. */
export function skipUnchangedPods({ progress }: UpgradeRun, { unchangedPods = [] }: PreflightReport): void {
  for (const pod of unchangedPods) {
    progress.skip(`redeploy:${pod}`, 'unchanged, not redeployed: the new tag leaves its definition as it is');
  }
}

/** The upgrade's changes as a rollback reads them, before it has made any. */
export function noChangesYet(run: UpgradeRun, preflight: PreflightReport): UpgradeChanges {
  return {
    previousTag: preflight.fromVersion,
    profile: preflight.profile,
    pinTag: rollbackPinTag(run.lockOwner),
    tagChanged: false,
    redeployedPods: [],
    fullRedeploy: false,
  };
}

/**
 * Step 2: pins the running images and pulls the new ones while the databases are backed up. Both branches end before
 * a failure of either counts. Returns the backup.
 */
export async function pullAndBackUp({ run, preflight, changes }: Upgrade): Promise<BackupRecord> {
  const { progress, report } = run;
  const { fromVersion, toVersion } = preflight;
  const backupId = backupIdOf(run, fromVersion, toVersion);
  const [pulled, backup] = await settleAll([
    progress.run(
      'pull-images',
      async () => {
        changes.pinnedImages = await transfer.pinRunningImages({ currentTag: fromVersion, pinTag: changes.pinTag });
        return transfer.pullImages({ tag: toVersion });
      },
      (images) => images.map((image) => `${image.image}@${shortDigest(image.digest)}`).join(', '),
    ),
    progress.run(
      'backup',
      async () => {
        const record = await transfer.backUpDatabases({ backupId, fromVersion, toVersion });
        // The host's binary beside the dumps, for the rollback to put back (docs/host-cli.md).
        if (patched(Patch.hostCli)) changes.hostCli = await quick.keepHostCli({ location: record.location });
        return record;
      },
      (record) =>
        `${record.location} (${record.files.length} files verified` +
        `${changes.hostCli?.copy ? `; ${changes.hostCli.version ?? 'bin/aegis'} kept` : ''})`,
    ),
  ]);
  report.images = pulled;
  report.backup = backup;
  changes.backup = backup;
  return backup;
}

/** Step 3, rolling: one pod at a time in the guide's order, each behind its approval gate if the request set one. */
export async function upgradeRolling(upgrade: Upgrade, baseline: Baseline): Promise<void> {
  const { pods } = upgrade.preflight;
  const together = podsRedeployedTogether(pods, upgrade.request);
  for (const pod of pods.filter((pod) => !together.includes(pod))) await redeployTarget(upgrade, baseline, pod);
  await settleAll(together.map((pod) => redeployTarget(upgrade, baseline, pod)));
}

/** Step 3, full: the whole profile torn down and deployed at once, then every pod judged on the new tag. */
export async function upgradeFull(upgrade: Upgrade, baseline: Baseline): Promise<void> {
  await redeployTarget(upgrade, baseline, 'profile');
}

/**
 * With `concurrentAfterCore`, the pods after the runtime are redeployed at once: by then the database and the migrated
 * runtime, which each of them needs, are up, and none of them needs another (see docs/benchmark.md). Otherwise none.
 */
function podsRedeployedTogether(pods: PodName[], request: ParsedUpgradeRequest): PodName[] {
  const core = pods.indexOf('core');
  return request.concurrentAfterCore && core >= 0 ? pods.slice(core + 1) : [];
}

/** What Step 3 redeploys at a time: one pod (`rolling`), or the whole profile (`full`). */
export type RedeployTarget = PodName | 'profile';

/** One of the steps around a redeploy, as the progress plans it and Step 3 runs it. */
export type RedeployStep = PlannedStep &
  (
    | { kind: 'approve'; pod: PodName }
    | { kind: 'final-backup' }
    | { kind: 'restore-from' }
    | { kind: 'redeploy' }
    | { kind: 'migrations' }
    | { kind: 'host-cli' }
  );

/**
 * The steps around the redeploy of `target`, in order: its approval gate, and with the runtime the final backup and a
 * downgrade's restore before it, its migrations checked and the host's binary and FUSE daemon brought to the release
 * after. Written once: the progress plans them, Step 3 runs them.
 */
export function redeploySteps(target: RedeployTarget, { request, preflight }: AcceptedRequest): RedeployStep[] {
  const runtime = target === 'profile' ? preflight.pods.includes('core') : target === 'core';
  const { restoreFrom } = preflight;
  const steps: RedeployStep[] = [];
  if (target !== 'profile' && request.approveBefore.includes(target)) {
    const title = `Wait for approval before ${target} (up to ${request.approvalTimeout})`;
    steps.push({ kind: 'approve', pod: target, id: `approve:${target}`, title });
  }
  if (runtime) {
    const title = 'Stop the database writers and dump the migrated databases';
    steps.push({ kind: 'final-backup', id: 'final-backup', title });
  }
  if (restoreFrom && (target === 'profile' || target === 'core')) {
    const title = `Restore the aegis database from ${restoreFrom.location} (downgrade)`;
    steps.push({ kind: 'restore-from', id: 'restore-from', title });
  }
  steps.push(
    target === 'profile'
      ? { kind: 'redeploy', id: 'deploy', title: 'Tear down, deploy the profile, bootstrap secrets' }
      : { kind: 'redeploy', id: `redeploy:${target}`, title: `Redeploy ${target}` },
  );
  if (runtime) {
    steps.push({ kind: 'migrations', id: 'migrations', title: 'Check the runtime migrations and readiness' });
    if (patched(Patch.hostCli)) {
      const title = `Put the new release's ${HOST_CLI.binary} on the host, restart ${HOST_CLI.unit}`;
      steps.push({ kind: 'host-cli', id: 'host-cli', title });
    }
  }
  return steps;
}

/** Runs the steps around the redeploy of `target` (redeploySteps), its change recorded before the first that makes it. */
async function redeployTarget(upgrade: Upgrade, baseline: Baseline, target: RedeployTarget): Promise<void> {
  let startedAt = '';
  for (const step of redeploySteps(target, upgrade)) {
    switch (step.kind) {
      case 'approve':
        await awaitApproval(upgrade, step.pod);
        break;
      case 'final-backup':
        await takeFinalBackup(upgrade, baseline.backup);
        break;
      case 'restore-from':
        recordRedeploy(upgrade.changes, target);
        await restoreForDowngrade(upgrade);
        break;
      case 'redeploy':
        recordRedeploy(upgrade.changes, target);
        startedAt = target === 'profile' ? await deployProfile(upgrade) : await redeployPod(upgrade, target);
        break;
      case 'migrations':
        await checkRuntime(upgrade, startedAt, baseline.migrationsBefore);
        break;
      case 'host-cli':
        await installHostCli(upgrade);
        break;
    }
  }
}

/**
 * The target's redeploy in the changes a rollback reads: a downgrade's restore before it counts as its start. A full
 * one's `make deploy` installs the new release's binary and restarts the FUSE daemon itself.
 */
function recordRedeploy(changes: UpgradeChanges, target: RedeployTarget): void {
  if (target === 'profile') {
    changes.fullRedeploy = true;
    changes.hostCliChanged = true;
  } else if (!changes.redeployedPods.includes(target)) changes.redeployedPods.push(target);
}

/** One pod on the new tag, ready (the runtime is judged after its migrations). Returns when it started. */
async function redeployPod({ run, preflight }: Upgrade, pod: PodName): Promise<string> {
  const { toVersion } = preflight;
  const notBefore = new Date().toISOString();
  const redeployed = await run.progress.run(
    `redeploy:${pod}`,
    async () => {
      const result = await redeploy.redeployPod({ pod, tag: toVersion, notBefore });
      if (pod !== 'core') await redeploy.awaitPodReady({ pod, tag: toVersion });
      return result;
    },
    (result) => (result.skipped ? 'already on the target since this step began' : undefined),
  );
  return redeployed.startedAt;
}

/** The profile torn down and deployed on the new tag, every pod but the runtime ready. Returns when it started. */
async function deployProfile({ run, preflight }: Upgrade): Promise<string> {
  const { pods, toVersion } = preflight;
  const started = new Date().toISOString();
  await run.progress.run(
    'deploy',
    async () => {
      const secrets = await redeploy.redeployPlatform();
      for (const pod of pods.filter((pod) => pod !== 'core')) await redeploy.awaitPodReady({ pod, tag: toVersion });
      return secrets;
    },
    (secrets) => secrets || undefined,
  );
  return started;
}

/** After the runtime: the new release's binary in `bin/aegis`, the FUSE daemon restarted on it and steady. */
async function installHostCli({ run, preflight, changes }: Upgrade): Promise<void> {
  changes.hostCliChanged = true;
  run.report.hostCli = await run.progress.run(
    'host-cli',
    () => redeploy.installHostCli({ tag: preflight.toVersion }),
    (result) => `${result.binary}; ${result.daemon}`,
  );
}

/** Holds the upgrade before `pod` until its `approve` signal; past `approvalTimeout`, it fails and rolls back. */
async function awaitApproval({ run, request }: Upgrade, pod: PodName): Promise<void> {
  run.announce('waiting-for-approval');
  await run.progress.run(
    `approve:${pod}`,
    async () => {
      // Upgrades started before these changes replay them as they ran (docs/versioning.md).
      const timeout = patched(Patch.defaultApprovalTimeout)
        ? request.approvalTimeout
        : (run.input.approvalTimeout ?? undefined);
      if (!(await run.gates.await(pod, timeout, patched(Patch.approvalsPerGate)))) {
        throw ApplicationFailure.nonRetryable(`nobody approved within ${timeout}`, 'ApprovalTimedOut');
      }
    },
    () => 'approved',
  );
  run.announce('upgrading');
}

/** Just before the new runtime migrates: writers stopped, the migrated databases dumped as they are now. */
async function takeFinalBackup({ run, changes }: Upgrade, backup: BackupRecord): Promise<void> {
  changes.writersStopped = true;
  const record = await run.progress.run(
    'final-backup',
    () => databaseChange().backUpFinal({ backup }),
    (final) => `writers stopped; ${final.final?.files.map((file) => file.name).join(', ')} verified`,
  );
  run.report.backup = record;
  changes.backup = record;
}

/**
 * A downgrade's database: the backup taken when the platform last left the target version. With `restoreDatabase:
 * never` it is restored only if the schema moved since (`auto`): an older runtime must not run on a newer schema.
 */
async function restoreForDowngrade({ run, request, preflight }: Upgrade): Promise<void> {
  const backup = preflight.restoreFrom;
  if (!backup) return;
  const policy = request.restoreDatabase === 'never' ? 'auto' : 'always';
  const outcome = await run.progress.run(
    'restore-from',
    () => databaseChange().restoreDatabase({ backup, policy }),
    (restore) => restore.reason,
  );
  // What the restore discarded, as a rollback's restore tells it: in the report, `status` and the webhook's message.
  if (outcome.restore) run.report.databaseRestore = outcome.restore;
}

/** The runtime's readiness is judged after its migrations: a failed migration is named as such, not as a dead pod. */
async function checkRuntime({ run, preflight }: Upgrade, since: string, migrationsBefore: number[]): Promise<void> {
  run.report.migrationsApplied = await run.progress.run(
    'migrations',
    async () => {
      const applied = await redeploy.awaitMigrations({ since, before: migrationsBefore });
      // The new runtime is judged: the writers stopped for the final dump may write again.
      await quick.resumeWriters();
      await redeploy.awaitPodReady({ pod: 'core', tag: preflight.toVersion });
      return applied;
    },
    (applied) => (applied.length > 0 ? `applied ${applied.join(', ')}` : 'database is up to date'),
  );
}

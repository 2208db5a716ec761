import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  type Client,
  type WorkflowExecutionDescription,
  type WorkflowExecutionInfo,
  type WorkflowHandle,
  type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import { ApplicationFailure, TimeoutFailure } from '@temporalio/common';
import { planWorkflowId } from '../core/environments';
import { formatDuration } from '../core/format';
import { ROLLING_ORDER, isImageTag, isPodName, type PodName } from '../core/platform';
import {
  UPGRADE_WORKFLOW_TYPE,
  abortReasonSignal,
  environmentOf,
  approveSignal,
  progressQuery,
  upgradeWorkflowId,
  type StepRecord,
  type UpgradeMemo,
  type UpgradeProgress,
  type UpgradeReport,
  type UpgradeRequest,
} from '../core/upgrade';
import { InvalidUpgradeRequest, parseUpgradeRequest } from '../core/upgrade-request';
import { RollbackRefused, chooseRollback, type CompletedUpgrade, type RollbackTarget } from '../core/rollback-target';
import {
  parseAbortRequest,
  parseApproval,
  type AbortRequest,
  type Approval,
  type ApprovalRecord,
  type OperatorAction,
} from '../core/operator-actions';
import { AegisFromVersion, AegisPhase, AegisToVersion, startSearchAttributes } from '../core/search-attributes';
import { CommandFailed, UsageError, isUnanswered } from './errors';
import { requestFieldsOf, type RequestFlagValues } from './request-options';
import { checkedEnvironment, environmentUpgradesQuery, isUpgradeOf } from './visibility';
import { WORKER_POLLED_WITHIN_MS, noWorkerLine, queueWorker, type QueueWorker } from './workers';

/** What `start`, `plan` and `schedule create` read: the environment and the request's flags. */
export type UpgradeOptions = RequestFlagValues & { env: string };

/** The shared parser's verdict on a request, as the CLI reports a bad argument (exit 2). */
export function checkedRequest(input: unknown): UpgradeRequest {
  try {
    return parseUpgradeRequest(input);
  } catch (error) {
    if (error instanceof InvalidUpgradeRequest) throw new UsageError(error.message, { cause: error });
    throw error;
  }
}

export function upgradeRequest(targetVersion: string | undefined, options: UpgradeOptions): UpgradeRequest {
  if (!targetVersion) throw new UsageError('Expected the version to upgrade to, e.g. `aegis-upgrade start 1.3.0`');
  return checkedRequest({ targetVersion, ...requestFieldsOf(options) });
}

/** The report an upgrade ended with: its result, or the details of its failure. */
export async function upgradeOutcome(handle: WorkflowHandle): Promise<UpgradeReport> {
  try {
    return (await handle.result()) as UpgradeReport;
  } catch (error) {
    if (error instanceof WorkflowFailedError && error.cause instanceof ApplicationFailure) {
      const report = error.cause.details?.[0] as UpgradeReport | undefined;
      if (report) return report;
    }
    throw error;
  }
}

async function runningUpgrade(client: Client, env: string): Promise<WorkflowExecutionInfo | undefined> {
  for await (const run of client.workflow.list({ query: environmentUpgradesQuery(env, { running: true }) })) {
    if (isUpgradeOf(run, env)) return run;
  }
  return undefined;
}

/** The environment's upgrade: the running one, or else the last one started. */
export async function findUpgrade(client: Client, env: string): Promise<WorkflowHandle> {
  const byHand = client.workflow.getHandle(upgradeWorkflowId(checkedEnvironment(env)));
  // Visibility lists lag a moment behind a start: the exact ID answers at once.
  const described = await byHand.describe().catch(() => undefined);
  if (described?.status.name === 'RUNNING') return byHand;
  const running = await runningUpgrade(client, env);
  if (running) return client.workflow.getHandle(running.workflowId, running.runId);
  const [last] = await upgradeHistory(client, env, 1);
  if (last) return client.workflow.getHandle(last.workflowId);
  if (described) return byHand;
  throw new UsageError(`No upgrade has run for environment ${env}`);
}

async function alreadyRunning(client: Client, env: string, workflowId: string): Promise<UsageError> {
  const other = await client.workflow.getHandle(workflowId).describe();
  const target = (other.memo as Partial<UpgradeMemo> | undefined)?.toVersion ?? 'unknown';
  return new UsageError(
    `An upgrade is already running for environment ${env}: ${other.workflowId} (run ${other.runId}, to ${target}, ` +
      `started ${other.startTime.toISOString()}). Watch it with \`aegis-upgrade status --env ${env} --follow\` ` +
      `or stop it with \`aegis-upgrade abort --env ${env}\``,
  );
}

/** Starts `aegis-upgrade-<env>`; refused while any upgrade of that environment runs, by hand or by schedule. */
export async function startUpgrade(
  client: Client,
  taskQueue: string,
  request: UpgradeRequest,
  env: string,
): Promise<WorkflowHandleWithFirstExecutionRunId> {
  return startEnvironmentUpgrade(client, {
    workflowType: UPGRADE_WORKFLOW_TYPE,
    taskQueue,
    env,
    request,
    toVersion: request.targetVersion,
    summary: `AEGIS upgrade of ${env} to ${request.targetVersion}`,
  });
}

/** What starts one of an environment's upgrades: the AEGIS upgrade, or a component's. */
export interface EnvironmentUpgradeStart {
  workflowType: string;
  taskQueue: string;
  env: string;
  request: object;
  /** What the memo and search attributes name as the target, e.g. `1.3.0` or `postgres 16`. */
  toVersion: string;
  summary: string;
}

/**
 * Starts an upgrade as `aegis-upgrade-<env>`, the ID every upgrade of the environment has: refused while any of them
 * runs, by hand or by schedule, and found by `status`, `history` and `abort` alike.
 */
export async function startEnvironmentUpgrade(
  client: Client,
  { workflowType, taskQueue, env, request, toVersion, summary }: EnvironmentUpgradeStart,
): Promise<WorkflowHandleWithFirstExecutionRunId> {
  const workflowId = upgradeWorkflowId(checkedEnvironment(env));
  const running = await runningUpgrade(client, env);
  if (running) throw await alreadyRunning(client, env, running.workflowId);
  try {
    return await client.workflow.start(workflowType, {
      taskQueue,
      workflowId,
      args: [request],
      memo: { environment: env, toVersion } satisfies Partial<UpgradeMemo>,
      typedSearchAttributes: startSearchAttributes(env, toVersion),
      staticSummary: summary,
    });
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) throw await alreadyRunning(client, env, workflowId);
    throw error;
  }
}

/** A dry run: the read-only pre-flight, on the worker, against the deployment. */
export async function planUpgrade(
  client: Client,
  taskQueue: string,
  request: UpgradeRequest,
  env: string,
  timeoutMs: number,
): Promise<UpgradeReport> {
  return planEnvironmentUpgrade(client, timeoutMs, {
    workflowType: UPGRADE_WORKFLOW_TYPE,
    taskQueue,
    env,
    request,
    toVersion: request.targetVersion,
    summary: `AEGIS upgrade plan for ${env} to ${request.targetVersion}`,
  });
}

/**
 * Any upgrade's dry run: its request with `dryRun`, under a plan's own ID. It may run `timeoutMs` at most, on the
 * server too (its execution timeout): a plan no worker took does not stay open.
 */
export async function planEnvironmentUpgrade(
  client: Client,
  timeoutMs: number,
  { workflowType, taskQueue, env, request, summary }: EnvironmentUpgradeStart,
): Promise<UpgradeReport> {
  const handle = await client.workflow.start(workflowType, {
    taskQueue,
    workflowId: planWorkflowId(env, Date.now()),
    args: [{ ...request, dryRun: true }],
    staticSummary: summary,
    workflowExecutionTimeout: timeoutMs,
  });
  try {
    return await upgradeOutcome(handle);
  } catch (error) {
    if (!(error instanceof WorkflowFailedError && error.cause instanceof TimeoutFailure)) throw error;
    const worker = await queueWorker(client, taskQueue, Date.now(), WORKER_POLLED_WITHIN_MS);
    throw new CommandFailed(
      `${handle.workflowId} did not end within ${formatDuration(timeoutMs)} (--timeout)` +
        (worker.polling ? '' : `: ${noWorkerLine(worker)}`),
      { cause: error },
    );
  }
}

/** A running upgrade whose worker does not answer: what the server alone knows of it. */
export interface UnansweredUpgrade {
  workflowId: string;
  runId: string;
  startedAt: string;
  /** Its search attributes, as the upgrade last set them. */
  phase?: string;
  fromVersion?: string;
  toVersion?: string;
  retrying: RetryingActivity[];
  /** "no worker polls `<queue>` since <time>" */
  worker: string;
}

/** Where an upgrade stands: its progress while it runs (or the server's view when no worker answers), its report once it ended. */
export type UpgradeState = { execution: UpgradeExecution } & (
  | { running: true; progress: UpgradeProgress }
  | { running: true; unanswered: UnansweredUpgrade }
  | { running: false; report: UpgradeReport }
);

/** How long a query waits for the worker's answer when the server says one polls. */
const QUERY_WAIT_MS = 10_000;

/** The upgrade's progress from its worker, or undefined when no worker answers (none polls, or none in time). */
export async function askProgress(
  client: Client,
  handle: WorkflowHandle,
  taskQueue: string,
): Promise<{ progress: UpgradeProgress } | { worker: QueueWorker }> {
  const worker = await queueWorker(client, taskQueue, Date.now(), WORKER_POLLED_WITHIN_MS);
  if (!worker.polling) return { worker };
  try {
    return {
      progress: await client.connection.withDeadline(Date.now() + QUERY_WAIT_MS, () => handle.query(progressQuery)),
    };
  } catch (error) {
    if (isUnanswered(error)) return { worker: { ...worker, polling: false } };
    throw error;
  }
}

function unanswered(description: WorkflowExecutionDescription, worker: QueueWorker): UnansweredUpgrade {
  const attributes = description.typedSearchAttributes;
  return {
    workflowId: description.workflowId,
    runId: description.runId,
    startedAt: description.startTime.toISOString(),
    phase: attributes.get(AegisPhase),
    fromVersion: attributes.get(AegisFromVersion),
    toVersion: attributes.get(AegisToVersion),
    retrying: retryingActivities(description),
    worker: noWorkerLine(worker),
  };
}

export async function upgradeState(client: Client, handle: WorkflowHandle): Promise<UpgradeState> {
  const description = await handle.describe();
  const execution = executionOf(description, environmentOf(description.workflowId));
  if (description.status.name === 'RUNNING') {
    const asked = await askProgress(client, handle, description.taskQueue);
    if ('worker' in asked) return { execution, running: true, unanswered: unanswered(description, asked.worker) };
    return { execution, running: true, progress: withRetries(asked.progress, retryingActivities(description)) };
  }
  const report = await upgradeOutcome(handle).catch(() => undefined);
  if (!report) throw new UsageError(`${handle.workflowId} ended ${description.status.name} without a report`);
  return { execution, running: false, report };
}

/** An activity the server is retrying: its attempt now and why the last one failed. */
export interface RetryingActivity {
  activity: string;
  attempt: number;
  lastError?: string;
}

/**
 * The activities of a run that failed at least once and are being retried. The workflow never sees an activity's
 * retries (the server runs them), so its progress cannot say it; the server's description of the run can.
 */
export function retryingActivities(description: WorkflowExecutionDescription): RetryingActivity[] {
  return (description.raw.pendingActivities ?? [])
    .filter((pending) => (pending.attempt ?? 1) > 1)
    .map((pending) => ({
      activity: pending.activityType?.name ?? 'activity',
      attempt: pending.attempt ?? 1,
      lastError: pending.lastFailure?.message ?? undefined,
    }));
}

/** The current step's detail says which activity is being retried, its attempt, and its last error. */
export function withRetries(progress: UpgradeProgress, retrying: readonly RetryingActivity[]): UpgradeProgress {
  if (retrying.length === 0 || !progress.currentStep) return progress;
  const detail = retrying
    .map(
      ({ activity, attempt, lastError }) =>
        `retrying ${activity}, attempt ${attempt}${lastError ? `; last error: ${lastError}` : ''}`,
    )
    .join('; ');
  const annotate = (step: StepRecord): StepRecord => (step.id === progress.currentStep ? { ...step, detail } : step);
  return { ...progress, steps: progress.steps.map(annotate), rollback: progress.rollback.map(annotate) };
}

/** An approval gate's step: `approve:<pod>`. */
const APPROVAL_STEP = 'approve:';

/**
 * Releases the gate the environment's upgrade waits at, naming it in the signal: the workflow refuses an approval of
 * any gate but the one waiting (another operator's approval may have released it since). With `pod`, only if the
 * upgrade waits at that pod's gate. Returns the upgrade and the pod whose gate the approval names.
 */
export async function approveUpgrade(
  client: Client,
  env: string,
  pod: string | undefined,
  action: OperatorAction,
): Promise<{ workflowId: string; gate: PodName }> {
  if (pod !== undefined && !isPodName(pod)) {
    throw new UsageError(`Unknown pod \`${pod}\` for --pod: expected one of ${ROLLING_ORDER.join(', ')}`);
  }
  const handle = await findUpgrade(client, env);
  const state = await upgradeState(client, handle);
  if (state.running && 'unanswered' in state) return approveUnanswered(handle, env, state.unanswered, pod, action);
  if (!state.running) {
    throw new UsageError(`${handle.workflowId} is not running (it ended ${state.report.phase}): nothing to approve`);
  }
  const { progress } = state;
  const gate = progress.steps.find((step) => step.id.startsWith(APPROVAL_STEP) && step.status === 'running');
  if (progress.phase !== 'waiting-for-approval' || !gate) {
    throw new UsageError(
      `${handle.workflowId} is not waiting for an approval (phase: ${progress.phase}); approve when ` +
        `\`aegis-upgrade status --env ${env}\` says waiting-for-approval`,
    );
  }
  const waiting = gate.id.slice(APPROVAL_STEP.length) as PodName;
  if (pod !== undefined && pod !== waiting) {
    throw new UsageError(`${handle.workflowId} waits at the gate before ${waiting}, not ${pod}: nothing was approved`);
  }
  await handle.signal(approveSignal, checkedApproval({ pod: waiting, ...action }));
  return { workflowId: handle.workflowId, gate: waiting };
}

/**
 * Without a worker the gate waited at cannot be read: an approval naming `--pod` is sent, for the worker to judge when
 * it is back, if the upgrade's phase says it waits for one; without `--pod` nothing is sent.
 */
async function approveUnanswered(
  handle: WorkflowHandle,
  env: string,
  upgrade: UnansweredUpgrade,
  pod: string | undefined,
  action: OperatorAction,
): Promise<{ workflowId: string; gate: PodName }> {
  if (pod === undefined || upgrade.phase !== 'waiting-for-approval') {
    throw new UsageError(
      `${handle.workflowId} does not answer (${upgrade.worker}): its gate cannot be read, nothing was approved; ` +
        `start its worker, or name the gate with \`aegis-upgrade approve --env ${env} --pod <pod>\``,
    );
  }
  await handle.signal(approveSignal, checkedApproval({ pod: pod as PodName, ...action }));
  return { workflowId: handle.workflowId, gate: pod as PodName };
}

/** An approval as the workflow reads it (the same parser): `--by` and `--reason` are checked before it is sent. */
export function checkedApproval(input: Approval): Approval {
  const approval = parseApproval(input);
  if (typeof approval === 'string') throw new UsageError(`Approval not sent: ${approval}`);
  return approval;
}

/** Who aborts and why, as the workflow reads them (the same parser). */
export function checkedAbort(input: AbortRequest): AbortRequest {
  const request = parseAbortRequest(input);
  if (typeof request === 'string') throw new UsageError(`Abort not sent: ${request}`);
  return request;
}

/**
 * Cancels the environment's running upgrade, which rolls it back, after telling it who aborts and why; returns its
 * workflow ID. Refused when none runs.
 */
export async function abortUpgrade(client: Client, env: string, action: AbortRequest): Promise<string> {
  const request = checkedAbort(action);
  const handle = await findUpgrade(client, env);
  const { status } = await handle.describe();
  if (status.name !== 'RUNNING') {
    throw new UsageError(
      `No upgrade of environment ${env} is running: the last one, ${handle.workflowId}, ended ${status.name}; ` +
        'nothing was aborted',
    );
  }
  await handle.signal(abortReasonSignal, request);
  await handle.cancel();
  return handle.workflowId;
}

/**
 * An upgrade's run as the server knows it: the fields `history` prints and `status -o json` begins with, in one
 * shape. Durations are milliseconds (`durationMs`), as a step's are.
 */
export interface UpgradeExecution {
  workflowId: string;
  runId: string;
  environment: string;
  fromVersion?: string;
  toVersion?: string;
  /** How it ended (its last phase), or how Temporal ended it (`terminated`, `timed_out`), or where it is. */
  phase: string;
  startedAt: string;
  endedAt?: string;
  durationMs?: number;
  startedBy: 'schedule' | 'hand';
}

export interface HistoryEntry extends UpgradeExecution {
  /** Each gate released, by whom and why: from its report (absent while it runs). */
  approvals?: ApprovalRecord[];
  /** An operator cancelled it: who and why. */
  aborted?: AbortRequest;
}

/** What the server knows of a run, in the one shape of `UpgradeExecution`. */
export function executionOf(
  run: Pick<
    WorkflowExecutionInfo,
    | 'workflowId'
    | 'runId'
    | 'status'
    | 'startTime'
    | 'closeTime'
    | 'memo'
    | 'typedSearchAttributes'
    | 'searchAttributes'
  >,
  env: string,
  memo: Partial<UpgradeMemo> = (run.memo ?? {}) as Partial<UpgradeMemo>,
): UpgradeExecution {
  const attributes = run.typedSearchAttributes;
  return {
    workflowId: run.workflowId,
    runId: run.runId,
    environment: env,
    fromVersion: attributes.get(AegisFromVersion) ?? memo.fromVersion,
    toVersion: attributes.get(AegisToVersion) ?? memo.toVersion,
    phase: outcomeOf(run, attributes.get(AegisPhase) ?? memo.outcome),
    startedAt: run.startTime.toISOString(),
    ...(run.closeTime && {
      endedAt: run.closeTime.toISOString(),
      durationMs: run.closeTime.getTime() - run.startTime.getTime(),
    }),
    startedBy: run.searchAttributes?.TemporalScheduledById ? 'schedule' : 'hand',
  };
}

/** How far back history looks: enough for years of weekly windows, bounded for a busy namespace. */
const HISTORY_SCAN_LIMIT = 1_000;

/** The phase (or, for an upgrade from before the search attributes, its memo) says how it ended, unless Temporal ended it first (terminated, timed out). */
export function outcomeOf(run: Pick<WorkflowExecutionInfo, 'status'>, phase: string | undefined): string {
  if (['RUNNING', 'COMPLETED', 'FAILED'].includes(run.status.name)) return phase ?? run.status.name.toLowerCase();
  return run.status.name.toLowerCase();
}

/** Past upgrades, newest first: the server finds them by their search attributes (those before them, by their ID). */
export async function upgradeHistory(client: Client, env: string, limit: number): Promise<UpgradeExecution[]> {
  const entries: UpgradeExecution[] = [];
  for await (const run of client.workflow.list({ query: environmentUpgradesQuery(env) })) {
    if (!isUpgradeOf(run, env)) continue;
    // Upgrades from before the search attributes have their memo only.
    entries.push(executionOf(run, env));
    if (entries.length >= HISTORY_SCAN_LIMIT) break;
  }
  return entries.sort((a, b) => b.startedAt.localeCompare(a.startedAt)).slice(0, limit);
}

/** Past upgrades with who approved them and why one was cancelled: from the reports of those shown. */
export async function upgradeHistoryWithApprovals(client: Client, env: string, limit: number): Promise<HistoryEntry[]> {
  const entries = await upgradeHistory(client, env, limit);
  return Promise.all(
    entries.map(async (entry): Promise<HistoryEntry> => {
      if (entry.endedAt === undefined) return entry;
      // A run Temporal ended itself (terminated, timed out) has no report: the server's view is all there is.
      const report = await upgradeOutcome(client.workflow.getHandle(entry.workflowId, entry.runId)).catch(
        () => undefined,
      );
      return {
        ...entry,
        ...(report?.approvals && report.approvals.length > 0 && { approvals: report.approvals }),
        ...(report?.aborted && { aborted: report.aborted }),
      };
    }),
  );
}

/** How many of an environment's completed upgrades `rollback` reads the reports of: the recent ones it may put back. */
const ROLLBACK_CANDIDATES = 20;

/**
 * What `rollback` puts back and how: the environment's completed AEGIS upgrades (not its components'), newest first,
 * with their reports, chosen from by `chooseRollback`. A refusal is the CLI's failure, naming the choices.
 */
export async function rollbackTarget(client: Client, env: string, to?: string): Promise<RollbackTarget> {
  const runs = (await upgradeHistory(client, env, HISTORY_SCAN_LIMIT))
    .filter((run) => run.phase === 'completed' && run.toVersion !== undefined && isImageTag(run.toVersion))
    .slice(0, ROLLBACK_CANDIDATES);
  const completed = await Promise.all(
    runs.map(async ({ workflowId, runId, endedAt }): Promise<CompletedUpgrade> => ({
      workflowId,
      runId,
      ...(endedAt && { endedAt }),
      report: await upgradeOutcome(client.workflow.getHandle(workflowId, runId)),
    })),
  );
  try {
    return chooseRollback(env, completed, to);
  } catch (error) {
    if (error instanceof RollbackRefused) throw new CommandFailed(`${error.message}; nothing was started`);
    throw error;
  }
}

/** The downgrade that puts the upgrade back: to the version it left, restoring the backup it took then. */
export function rollbackRequest(target: RollbackTarget): UpgradeRequest {
  return checkedRequest({ targetVersion: target.targetVersion, restoreFrom: target.restoreFrom });
}

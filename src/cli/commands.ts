/** What each command does once its arguments are parsed: the Temporal calls, then what they print. */
import { Client, type WorkflowHandle } from '@temporalio/client';
import { describeConnection, loadTemporalConfig, type TemporalConfig } from '../config';
import { taskQueueFor } from '../core/environments';
import { fleetTaskQueue, fleetWorkflowId } from '../core/fleet';
import { environmentOf } from '../core/upgrade';
import {
  abortFleet,
  approveFleet,
  checkedFleet,
  fleetRequest,
  fleetState,
  startFleet,
  type FleetOptions,
  type FleetState,
} from './fleet';
import { renderFleetPlan, renderFleetProgress } from './render-fleet';
import { componentRequest, planComponent, startComponentUpgrade, type ComponentOptions } from './components';
import { knownEnvironments } from './environments';
import { connectToTemporal } from './connect';
import { ExitCode, TemporalUnreachable, UsageError, fromServer, isUnavailable, reportExitCode } from './errors';
import { parseOperatorAction } from '../core/operator-actions';
import { followFleet, followUpgrade } from './follow';
import { identity } from './identity';
import { isJson, paintOf, toJson, type GlobalOptions } from './output';
import { noWorkerLine, requireWorker } from './workers';
import { setUpSearchAttributes } from '../worker/search-attributes-registry';
import {
  renderEnvironments,
  renderHistory,
  renderOutcome,
  renderPlan,
  renderProgress,
  renderRollbackTarget,
  renderSchedules,
  renderUnanswered,
  renderUnlock,
} from './render';
import { renderSetup } from './render-setup';
import {
  createSchedule,
  deleteSchedule,
  listSchedules,
  triggerSchedule,
  windowSpec,
  type WindowOptions,
} from './schedules';
import { unlockDeployment, unlockRequest } from './unlock';
import { unregisteredSearchAttributes } from './visibility';
import {
  abortUpgrade,
  approveUpgrade,
  askProgress,
  executionOf,
  findUpgrade,
  planUpgrade,
  rollbackRequest,
  rollbackTarget,
  startUpgrade,
  upgradeHistoryWithApprovals,
  upgradeRequest,
  upgradeState,
  type UpgradeOptions,
} from './upgrades';

export { doctor, type DoctorOptions } from './doctor';

export interface EnvOption extends GlobalOptions {
  env: string;
}
/** What sends work to a worker: refused when none polls its queue, unless allowed. */
export interface WorkerOptions {
  allowNoWorker?: boolean;
}
/** What waits: `--timeout`, in milliseconds. */
export interface Waiting<Limit = number | undefined> {
  timeout: Limit;
}
/** What `approve`, `abort` and `fleet approve` record: `--by` (default: user@host) and `--reason`. */
export interface OperatorOptions {
  by: string;
  reason?: string;
}
export type StartOptions = UpgradeOptions & GlobalOptions & WorkerOptions & Partial<Waiting> & { follow?: boolean };
export type PlanOptions = UpgradeOptions & GlobalOptions & WorkerOptions & Waiting<number>;
export type StatusOptions = EnvOption & Partial<Waiting> & { follow?: boolean };
export type AbortOptions = EnvOption & OperatorOptions;
export type ApproveOptions = EnvOption & OperatorOptions & { pod?: string };
export type HistoryOptions = EnvOption & { limit: number };
export type UnlockOptions = EnvOption & Waiting<number> & { reason?: string };
export interface FleetNameOption extends GlobalOptions {
  name: string;
}
export type FleetStartOptions = FleetOptions & GlobalOptions & WorkerOptions & Partial<Waiting> & { follow?: boolean };
export type FleetPlanOptions = FleetOptions & GlobalOptions;
export type FleetStatusOptions = FleetNameOption & Partial<Waiting> & { follow?: boolean };
export type FleetApproveOptions = FleetNameOption & OperatorOptions;
/** `rollback`: which upgrade to put back (`--to`), and whether to only plan it or follow it. */
export type RollbackOptions = EnvOption &
  WorkerOptions &
  Partial<Waiting> & { to?: string; plan?: boolean; follow?: boolean; planTimeout: number };
export type ScheduleCreateOptions = UpgradeOptions & GlobalOptions & WindowOptions & { version: string };

const print = (text: string) => console.log(text);
/** The text, or with `-o json` the value as JSON: every command prints one or the other on stdout. */
const show = (options: GlobalOptions, value: unknown, text: () => string) =>
  print(isJson(options) ? toJson(value) : text());
const paint = (options: GlobalOptions) => paintOf(options);

/** Connects as `--address`, `--namespace` and `--profile` say, runs `use`, and closes the connection, whatever happens. */
async function withTemporal<T>(
  options: GlobalOptions,
  use: (client: Client, temporal: TemporalConfig) => Promise<T>,
): Promise<T> {
  const { address, namespace, profile } = options;
  const temporal = loadTemporalConfig(process.env, { address, namespace, profile });
  const connection = await connectToTemporal(temporal);
  try {
    // The server records this as who sent each start, signal and cancel: the user, not the SDK's `pid@host`.
    return await use(new Client({ connection, namespace: temporal.namespace, identity: identity() }), temporal);
  } catch (error) {
    if (isUnavailable(error)) throw new TemporalUnreachable(describeConnection(temporal), error);
    throw unregisteredSearchAttributes(error) ?? fromServer(error);
  } finally {
    await connection.close();
  }
}

/**
 * `--follow`: live until the upgrade ends or `--timeout`, saying when no worker answers. With `-o json`, the live lines
 * go to stderr and stdout gets one document once it ended: the run and its report, as `status -o json` prints them.
 */
async function follow(
  options: GlobalOptions & Partial<Waiting>,
  client: Client,
  handle: WorkflowHandle,
  taskQueue: string,
) {
  const ask = async () => {
    const asked = await askProgress(client, handle, taskQueue);
    return 'progress' in asked ? asked.progress : { unanswered: noWorkerLine(asked.worker) };
  };
  const json = isJson(options);
  const report = await followUpgrade(handle, {
    paint: paint(options),
    timeoutMs: options.timeout,
    ask,
    ...(json && { out: { write: (text: string) => process.stderr.write(text) } }),
  });
  if (json) {
    const description = await handle.describe();
    print(toJson({ ...executionOf(description, environmentOf(description.workflowId)), ...report }));
  }
  return reportExitCode(report);
}

/** The task queue of the environment's worker: its upgrades, dry runs and unlocks go there, and nowhere else. */
const queueOf = (temporal: TemporalConfig, env: string) => taskQueueFor(env, temporal.taskQueue);

/** What `start` says it started: `-o json` prints it as is. */
const startedRun = (handle: { workflowId: string; firstExecutionRunId: string }, environment: string) => ({
  workflowId: handle.workflowId,
  runId: handle.firstExecutionRunId,
  environment,
});

export async function start(version: string, options: StartOptions): Promise<number> {
  const request = upgradeRequest(version, options);
  return withTemporal(options, async (client, temporal) => {
    const queue = queueOf(temporal, options.env);
    if (!options.allowNoWorker) await requireWorker(client, queue, `environment ${options.env}`);
    const handle = await startUpgrade(client, queue, request, options.env);
    const started = { ...startedRun(handle, options.env), toVersion: request.targetVersion };
    if (options.follow) {
      if (!isJson(options)) print(`Started ${handle.workflowId} (run ${handle.firstExecutionRunId})`);
      return follow(options, client, handle, queue);
    }
    show(options, started, () => `Started ${handle.workflowId} (run ${handle.firstExecutionRunId})`);
    return ExitCode.Done;
  });
}

export async function plan(version: string, options: PlanOptions): Promise<number> {
  const request = upgradeRequest(version, options);
  return withTemporal(options, async (client, temporal) => {
    const queue = queueOf(temporal, options.env);
    if (!options.allowNoWorker) await requireWorker(client, queue, `environment ${options.env}`);
    const report = await planUpgrade(client, queue, request, options.env, options.timeout);
    show(options, report, () => renderPlan(report));
    return reportExitCode(report);
  });
}

/**
 * Puts the environment's last completed upgrade back (or, `--to`, the last that left that version): a downgrade to the
 * version it left with its backup restored. `--plan` runs that downgrade's dry run and says what it would discard.
 */
export async function rollback(options: RollbackOptions): Promise<number> {
  return withTemporal(options, async (client, temporal) => {
    const target = await rollbackTarget(client, options.env, options.to);
    const request = rollbackRequest(target);
    const queue = queueOf(temporal, options.env);
    if (!options.allowNoWorker) await requireWorker(client, queue, `environment ${options.env}`);
    const intro = renderRollbackTarget(options.env, target);
    if (options.plan) {
      const report = await planUpgrade(client, queue, request, options.env, options.timeout ?? options.planTimeout);
      show(options, { rollback: target, plan: report }, () => `${intro}\n${renderPlan(report)}`);
      return reportExitCode(report);
    }
    const handle = await startUpgrade(client, queue, request, options.env);
    const started = `${intro}\nStarted ${handle.workflowId} (run ${handle.firstExecutionRunId})`;
    if (options.follow) {
      if (!isJson(options)) print(started);
      return follow(options, client, handle, queue);
    }
    show(options, { ...startedRun(handle, options.env), rollback: target }, () => started);
    return ExitCode.Done;
  });
}

export type ComponentStartOptions = ComponentOptions &
  GlobalOptions &
  WorkerOptions &
  Partial<Waiting> & { follow?: boolean };
export type ComponentPlanOptions = ComponentOptions & GlobalOptions & WorkerOptions & Waiting<number>;

export async function componentStart(component: string, version: string, options: ComponentStartOptions) {
  const request = componentRequest(component, version, options);
  return withTemporal(options, async (client, temporal) => {
    const queue = queueOf(temporal, options.env);
    if (!options.allowNoWorker) await requireWorker(client, queue, `environment ${options.env}`);
    const handle = await startComponentUpgrade(client, queue, request, options.env);
    const started = { ...startedRun(handle, options.env), toVersion: `${component} ${version}` };
    const text = `Started ${handle.workflowId} (run ${handle.firstExecutionRunId}): ${component} ${version}`;
    if (options.follow) {
      if (!isJson(options)) print(text);
      return follow(options, client, handle, queue);
    }
    show(options, started, () => text);
    return ExitCode.Done;
  });
}

export async function componentPlan(component: string, version: string, options: ComponentPlanOptions) {
  const request = componentRequest(component, version, options);
  return withTemporal(options, async (client, temporal) => {
    const queue = queueOf(temporal, options.env);
    if (!options.allowNoWorker) await requireWorker(client, queue, `environment ${options.env}`);
    const report = await planComponent(client, queue, request, options.env, options.timeout);
    show(options, report, () => renderPlan(report));
    return reportExitCode(report);
  });
}

export async function status(options: StatusOptions): Promise<number> {
  return withTemporal(options, async (client) => {
    const handle = await findUpgrade(client, options.env);
    if (options.follow) {
      const { taskQueue } = await handle.describe();
      return follow(options, client, handle, taskQueue);
    }
    const state = await upgradeState(client, handle);
    // The run as `history` shows it, then what its worker (or, unanswered, the server) says of it now.
    if (state.running && 'unanswered' in state) {
      show(options, { ...state.execution, ...state.unanswered }, () =>
        renderUnanswered(state.unanswered, paint(options)),
      );
      return ExitCode.Done;
    }
    if (state.running) {
      show(options, { ...state.execution, ...state.progress }, () =>
        renderProgress(state.progress, Date.now(), paint(options)),
      );
      return ExitCode.Done;
    }
    const { report } = state;
    show(options, { ...state.execution, ...report }, () =>
      [renderProgress(report, Date.now(), paint(options)), renderOutcome(report)].filter(Boolean).join('\n'),
    );
    return reportExitCode(report);
  });
}

/** `--by` and `--reason`, checked by the workflow's own parser before anything is asked of the server. */
function operatorAction(options: OperatorOptions): OperatorOptions {
  const action = { by: options.by, ...(options.reason !== undefined && { reason: options.reason }) };
  const refused = parseOperatorAction(action);
  if (typeof refused === 'string') throw new UsageError(`Nothing was sent: ${refused}`);
  return action;
}

export async function approve(options: ApproveOptions): Promise<number> {
  const action = operatorAction(options);
  return withTemporal(options, async (client) => {
    const { workflowId, gate } = await approveUpgrade(client, options.env, options.pod, action);
    show(
      options,
      { workflowId, environment: options.env, pod: gate, ...action },
      () =>
        `Approval of the gate before ${gate} by ${action.by} sent to ${workflowId}; if another approval released ` +
        `that gate first, \`aegis-upgrade status --env ${options.env}\` shows this one refused in its notes`,
    );
    return ExitCode.Done;
  });
}

export async function abort(options: AbortOptions): Promise<number> {
  const action = operatorAction(options);
  return withTemporal(options, async (client) => {
    const workflowId = await abortUpgrade(client, options.env, action);
    show(
      options,
      { workflowId, environment: options.env, ...action },
      () =>
        `Abort by ${action.by} requested for ${workflowId}: it rolls back now; ` +
        `watch it with \`aegis-upgrade status --env ${options.env} --follow\``,
    );
    return ExitCode.Done;
  });
}

export async function history(options: HistoryOptions): Promise<number> {
  return withTemporal(options, async (client) => {
    const entries = await upgradeHistoryWithApprovals(client, options.env, options.limit);
    show(options, entries, () => renderHistory(entries, paint(options)));
    return ExitCode.Done;
  });
}

export async function environments(options: GlobalOptions): Promise<number> {
  return withTemporal(options, async (client, temporal) => {
    const known = await knownEnvironments(client, temporal.taskQueue);
    show(options, known, () => renderEnvironments(known, paint(options)));
    return ExitCode.Done;
  });
}

export async function unlock(options: UnlockOptions): Promise<number> {
  const request = unlockRequest(options.reason);
  return withTemporal(options, async (client, temporal) => {
    const queue = queueOf(temporal, options.env);
    const report = await unlockDeployment(client, queue, options.env, request, options.timeout);
    show(options, report, () => renderUnlock(report));
    return ExitCode.Done;
  });
}

export async function scheduleCreate(options: ScheduleCreateOptions): Promise<number> {
  const request = upgradeRequest(options.version, options);
  const spec = windowSpec(options);
  return withTemporal(options, async (client, temporal) => {
    const scheduleId = await createSchedule(client, queueOf(temporal, options.env), request, options.env, spec);
    show(options, { scheduleId, environment: options.env }, () => `Created schedule ${scheduleId}`);
    return ExitCode.Done;
  });
}

export async function scheduleList(options: GlobalOptions): Promise<number> {
  return withTemporal(options, async (client) => {
    const schedules = await listSchedules(client);
    show(options, schedules, () => renderSchedules(schedules, paint(options)));
    return ExitCode.Done;
  });
}

export async function scheduleDelete(options: EnvOption): Promise<number> {
  return withTemporal(options, async (client) => {
    await deleteSchedule(client, options.env);
    show(options, { deleted: true, environment: options.env }, () => `Deleted the schedule of ${options.env}`);
    return ExitCode.Done;
  });
}

export async function scheduleTrigger(options: EnvOption): Promise<number> {
  return withTemporal(options, async (client) => {
    await triggerSchedule(client, options.env);
    show(options, { triggered: true, environment: options.env }, () => `Triggered the schedule of ${options.env}`);
    return ExitCode.Done;
  });
}

/** The waves of a fleet request, from the request alone: no server is asked, nothing changes. */
export async function fleetPlan(version: string, options: FleetPlanOptions): Promise<number> {
  const planned = checkedFleet(fleetRequest(version, options));
  show(options, planned, () => renderFleetPlan(planned));
  return ExitCode.Done;
}

export async function fleetStart(version: string, options: FleetStartOptions): Promise<number> {
  const request = fleetRequest(version, options);
  return withTemporal(options, async (client, temporal) => {
    const queue = fleetTaskQueue(temporal.taskQueue);
    if (!options.allowNoWorker) await requireWorker(client, queue, 'the fleets', ['workflow']);
    const handle = await startFleet(client, queue, request, options.name);
    const started = {
      workflowId: handle.workflowId,
      runId: handle.firstExecutionRunId,
      name: options.name,
      targetVersion: request.targetVersion,
    };
    const text =
      `Started ${handle.workflowId} (run ${handle.firstExecutionRunId}): ${request.environments.length} environments ` +
      `to ${request.targetVersion}; watch it with \`aegis-upgrade fleet status --name ${options.name}\``;
    if (!options.follow) {
      show(options, started, () => text);
      return ExitCode.Done;
    }
    if (!isJson(options)) print(text);
    return followFleetUntilEnd(client, temporal, options, started);
  });
}

/**
 * The fleet in the shape every `fleet` command prints it with `-o json`: which fleet, its progress, and why it failed
 * or whom it waits for.
 */
function fleetView(name: string, state: FleetState) {
  const failure = state.running ? undefined : state.failure;
  const unpolled = state.running ? state.unpolled : [];
  return {
    workflowId: fleetWorkflowId(name),
    name,
    ...state.progress,
    ...(failure && { failure }),
    ...(unpolled.length > 0 && { unpolled }),
  };
}

function renderFleetState(state: FleetState, options: GlobalOptions): string[] {
  const failure = state.running ? undefined : state.failure;
  const unpolled = state.running ? state.unpolled : [];
  return [
    ...renderFleetProgress(state.progress, paint(options), unpolled).split('\n'),
    ...(failure ? [`${failure.type}: ${failure.message}`] : []),
  ];
}

/** `--follow`: each change of the fleet once, until its workflow ends; exit 1 when it stopped or rolled back. */
async function followFleetUntilEnd(
  client: Client,
  temporal: TemporalConfig,
  options: FleetNameOption & Partial<Waiting>,
  started: object = {},
): Promise<number> {
  let last: FleetState | undefined;
  const json = isJson(options);
  await followFleet(
    fleetWorkflowId(options.name),
    async () => {
      last = await fleetState(client, options.name, temporal.taskQueue);
      return { running: last.running, lines: renderFleetState(last, options) };
    },
    // With -o json, stdout holds the one document: the live lines go to stderr.
    { timeoutMs: options.timeout, ...(json && { out: { write: (text: string) => process.stderr.write(text) } }) },
  );
  if (!last) return ExitCode.Failed;
  if (json) print(toJson({ ...started, ...fleetView(options.name, last) }));
  return !last.running && last.failure ? ExitCode.Failed : ExitCode.Done;
}

export async function fleetStatus(options: FleetStatusOptions): Promise<number> {
  return withTemporal(options, async (client, temporal) => {
    if (options.follow) return followFleetUntilEnd(client, temporal, options);
    const state = await fleetState(client, options.name, temporal.taskQueue);
    show(options, fleetView(options.name, state), () => renderFleetState(state, options).join('\n'));
    return !state.running && state.failure ? ExitCode.Failed : ExitCode.Done;
  });
}

export async function fleetApprove(options: FleetApproveOptions): Promise<number> {
  const action = operatorAction(options);
  return withTemporal(options, async (client) => {
    const approved = await approveFleet(client, options.name, action);
    show(
      options,
      { workflowId: fleetWorkflowId(options.name), name: options.name, approved, ...action },
      () => `Approved by ${action.by}: ${approved}`,
    );
    return ExitCode.Done;
  });
}

export async function fleetAbort(options: FleetNameOption): Promise<number> {
  return withTemporal(options, async (client) => {
    const workflowId = await abortFleet(client, options.name);
    show(
      options,
      { workflowId, name: options.name },
      () =>
        `Abort requested for ${workflowId}: it starts no new upgrade; those running finish (\`aegis-upgrade abort ` +
        `--env X\` rolls one back); watch it with \`aegis-upgrade fleet status --name ${options.name}\``,
    );
    return ExitCode.Done;
  });
}

/** Registers the upgrade's search attributes on the namespace; already registered ones are left as they are. */
export async function setup(options: GlobalOptions): Promise<number> {
  return withTemporal(options, async (client, temporal) => {
    const registered = await setUpSearchAttributes(client.connection.operatorService, temporal.namespace);
    show(options, registered, () => renderSetup(registered));
    return ExitCode.Done;
  });
}

/**
 * The worker reads its connection from the variables it is started with (docs/configuration.md); the global
 * connection flags stand for them here too, and `-o`/`--color` do not change its log.
 */
export async function worker(options: GlobalOptions): Promise<number> {
  const { address, namespace, profile } = options;
  if (address !== undefined) process.env.TEMPORAL_ADDRESS = address;
  if (namespace !== undefined) process.env.TEMPORAL_NAMESPACE = namespace;
  if (profile !== undefined) process.env.TEMPORAL_PROFILE = profile;
  // Imported here only: the other commands do not load the activities and their dependencies.
  const { runWorker } = await import('../worker.js');
  await runWorker();
  return ExitCode.Done;
}

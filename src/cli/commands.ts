/** What each command does once its arguments are parsed: the Temporal calls, then what they print. */
import { Client, type WorkflowHandle } from '@temporalio/client';
import { describeConnection, loadTemporalConfig, type TemporalConfig } from '../config';
import { taskQueueFor } from '../core/environments';
import { fleetTaskQueue } from '../core/fleet';
import {
  abortFleet,
  approveFleet,
  checkedFleet,
  fleetRequest,
  fleetState,
  startFleet,
  type FleetOptions,
} from './fleet';
import { renderFleetPlan, renderFleetProgress } from './render-fleet';
import { componentRequest, planComponent, startComponentUpgrade, type ComponentOptions } from './components';
import { knownEnvironments } from './environments';
import { connectToTemporal } from './connect';
import { ExitCode, TemporalUnreachable, fromServer, isUnavailable, reportExitCode } from './errors';
import { followUpgrade } from './follow';
import { noWorkerLine, requireWorker } from './workers';
import { setUpSearchAttributes } from '../worker/search-attributes-registry';
import {
  renderEnvironments,
  renderHistory,
  renderOutcome,
  renderPlan,
  renderProgress,
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
import { paintFor } from './terminal';
import { unlockDeployment, unlockRequest } from './unlock';
import { unregisteredSearchAttributes } from './visibility';
import {
  abortUpgrade,
  approveUpgrade,
  askProgress,
  findUpgrade,
  planUpgrade,
  startUpgrade,
  upgradeHistory,
  upgradeRequest,
  upgradeState,
  type UpgradeOptions,
} from './upgrades';

export interface EnvOption {
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
export type StartOptions = UpgradeOptions & WorkerOptions & Partial<Waiting> & { follow?: boolean };
export type PlanOptions = UpgradeOptions & WorkerOptions & Waiting<number> & { json?: boolean };
export type StatusOptions = EnvOption & Partial<Waiting> & { json?: boolean; follow?: boolean };
export type AbortOptions = EnvOption & { reason?: string };
export type ApproveOptions = EnvOption & { pod?: string };
export type HistoryOptions = EnvOption & { limit: number; json?: boolean };
export type UnlockOptions = EnvOption & Waiting<number> & { reason?: string };
export interface FleetNameOption {
  name: string;
}
export type FleetStartOptions = FleetOptions & WorkerOptions;
export type FleetPlanOptions = FleetOptions & { json?: boolean };
export type FleetStatusOptions = FleetNameOption & { json?: boolean };
export type ScheduleCreateOptions = UpgradeOptions & WindowOptions & { version: string };

const print = (text: string) => console.log(text);
const json = (value: unknown) => JSON.stringify(value, null, 2);
const paint = () => paintFor(process.stdout);

/** Connects, runs `use`, and closes the connection, whatever happens. */
async function withTemporal<T>(use: (client: Client, temporal: TemporalConfig) => Promise<T>): Promise<T> {
  const temporal = loadTemporalConfig();
  const connection = await connectToTemporal(temporal);
  try {
    return await use(new Client({ connection, namespace: temporal.namespace }), temporal);
  } catch (error) {
    if (isUnavailable(error)) throw new TemporalUnreachable(describeConnection(temporal), error);
    throw unregisteredSearchAttributes(error) ?? fromServer(error);
  } finally {
    await connection.close();
  }
}

/** `--follow`: live until the upgrade ends or `--timeout`, saying when no worker answers. */
async function follow(client: Client, handle: WorkflowHandle, taskQueue: string, timeoutMs: number | undefined) {
  const ask = async () => {
    const asked = await askProgress(client, handle, taskQueue);
    return 'progress' in asked ? asked.progress : { unanswered: noWorkerLine(asked.worker) };
  };
  return reportExitCode(await followUpgrade(handle, { paint: paint(), timeoutMs, ask }));
}

/** The task queue of the environment's worker: its upgrades, dry runs and unlocks go there, and nowhere else. */
const queueOf = (temporal: TemporalConfig, env: string) => taskQueueFor(env, temporal.taskQueue);

export async function start(version: string, options: StartOptions): Promise<number> {
  const request = upgradeRequest(version, options);
  return withTemporal(async (client, temporal) => {
    const queue = queueOf(temporal, options.env);
    if (!options.allowNoWorker) await requireWorker(client, queue, `environment ${options.env}`);
    const handle = await startUpgrade(client, queue, request, options.env);
    print(`Started ${handle.workflowId} (run ${handle.firstExecutionRunId})`);
    if (!options.follow) return ExitCode.Done;
    return follow(client, handle, queue, options.timeout);
  });
}

export async function plan(version: string, options: PlanOptions): Promise<number> {
  const request = upgradeRequest(version, options);
  return withTemporal(async (client, temporal) => {
    const queue = queueOf(temporal, options.env);
    if (!options.allowNoWorker) await requireWorker(client, queue, `environment ${options.env}`);
    const report = await planUpgrade(client, queue, request, options.env, options.timeout);
    print(options.json ? json(report) : renderPlan(report));
    return reportExitCode(report);
  });
}

export type ComponentStartOptions = ComponentOptions & WorkerOptions & Partial<Waiting> & { follow?: boolean };
export type ComponentPlanOptions = ComponentOptions & WorkerOptions & Waiting<number> & { json?: boolean };

export async function componentStart(component: string, version: string, options: ComponentStartOptions) {
  const request = componentRequest(component, version, options);
  return withTemporal(async (client, temporal) => {
    const queue = queueOf(temporal, options.env);
    if (!options.allowNoWorker) await requireWorker(client, queue, `environment ${options.env}`);
    const handle = await startComponentUpgrade(client, queue, request, options.env);
    print(`Started ${handle.workflowId} (run ${handle.firstExecutionRunId}): ${component} ${version}`);
    if (!options.follow) return ExitCode.Done;
    return follow(client, handle, queue, options.timeout);
  });
}

export async function componentPlan(component: string, version: string, options: ComponentPlanOptions) {
  const request = componentRequest(component, version, options);
  return withTemporal(async (client, temporal) => {
    const queue = queueOf(temporal, options.env);
    if (!options.allowNoWorker) await requireWorker(client, queue, `environment ${options.env}`);
    const report = await planComponent(client, queue, request, options.env, options.timeout);
    print(options.json ? json(report) : renderPlan(report));
    return reportExitCode(report);
  });
}

export async function status(options: StatusOptions): Promise<number> {
  return withTemporal(async (client) => {
    const handle = await findUpgrade(client, options.env);
    if (options.follow) {
      const { taskQueue } = await handle.describe();
      return follow(client, handle, taskQueue, options.timeout);
    }
    const state = await upgradeState(client, handle);
    if (state.running && 'unanswered' in state) {
      print(options.json ? json(state.unanswered) : renderUnanswered(state.unanswered, paint()));
      return ExitCode.Done;
    }
    if (state.running) {
      print(options.json ? json(state.progress) : renderProgress(state.progress, Date.now(), paint()));
      return ExitCode.Done;
    }
    const { report } = state;
    const text = [renderProgress(report, Date.now(), paint()), renderOutcome(report)].filter(Boolean).join('\n');
    print(options.json ? json(report) : text);
    return reportExitCode(report);
  });
}

export async function approve(options: ApproveOptions): Promise<number> {
  return withTemporal(async (client) => {
    const { workflowId, gate } = await approveUpgrade(client, options.env, options.pod);
    print(
      `Approval of the gate before ${gate} sent to ${workflowId}; if another approval released that gate first, ` +
        `\`aegis-upgrade status --env ${options.env}\` shows this one refused in its notes`,
    );
    return ExitCode.Done;
  });
}

export async function abort(options: AbortOptions): Promise<number> {
  return withTemporal(async (client) => {
    const workflowId = await abortUpgrade(client, options.env, options.reason);
    print(
      `Abort requested for ${workflowId}: it rolls back now; ` +
        `watch it with \`aegis-upgrade status --env ${options.env} --follow\``,
    );
    return ExitCode.Done;
  });
}

export async function history(options: HistoryOptions): Promise<number> {
  return withTemporal(async (client) => {
    const entries = await upgradeHistory(client, options.env, options.limit);
    print(options.json ? json(entries) : renderHistory(entries, paint()));
    return ExitCode.Done;
  });
}

export async function environments(options: { json?: boolean }): Promise<number> {
  return withTemporal(async (client, temporal) => {
    const known = await knownEnvironments(client, temporal.taskQueue);
    print(options.json ? json(known) : renderEnvironments(known, paint()));
    return ExitCode.Done;
  });
}

export async function unlock(options: UnlockOptions): Promise<number> {
  const request = unlockRequest(options.reason);
  return withTemporal(async (client, temporal) => {
    const queue = queueOf(temporal, options.env);
    print(renderUnlock(await unlockDeployment(client, queue, options.env, request, options.timeout)));
    return ExitCode.Done;
  });
}

export async function scheduleCreate(options: ScheduleCreateOptions): Promise<number> {
  const request = upgradeRequest(options.version, options);
  const spec = windowSpec(options);
  return withTemporal(async (client, temporal) => {
    print(
      `Created schedule ${await createSchedule(client, queueOf(temporal, options.env), request, options.env, spec)}`,
    );
    return ExitCode.Done;
  });
}

export async function scheduleList(): Promise<number> {
  return withTemporal(async (client) => {
    print(renderSchedules(await listSchedules(client), paint()));
    return ExitCode.Done;
  });
}

export async function scheduleDelete(options: EnvOption): Promise<number> {
  return withTemporal(async (client) => {
    await deleteSchedule(client, options.env);
    print(`Deleted the schedule of ${options.env}`);
    return ExitCode.Done;
  });
}

export async function scheduleTrigger(options: EnvOption): Promise<number> {
  return withTemporal(async (client) => {
    await triggerSchedule(client, options.env);
    print(`Triggered the schedule of ${options.env}`);
    return ExitCode.Done;
  });
}

/** The waves of a fleet request, from the request alone: no server is asked, nothing changes. */
export async function fleetPlan(version: string, options: FleetPlanOptions): Promise<number> {
  const planned = checkedFleet(fleetRequest(version, options));
  print(options.json ? json(planned) : renderFleetPlan(planned));
  return ExitCode.Done;
}

export async function fleetStart(version: string, options: FleetStartOptions): Promise<number> {
  const request = fleetRequest(version, options);
  return withTemporal(async (client, temporal) => {
    const queue = fleetTaskQueue(temporal.taskQueue);
    if (!options.allowNoWorker) await requireWorker(client, queue, 'the fleets', ['workflow']);
    const handle = await startFleet(client, queue, request, options.name);
    print(
      `Started ${handle.workflowId} (run ${handle.firstExecutionRunId}): ${request.environments.length} environments ` +
        `to ${request.targetVersion}; watch it with \`aegis-upgrade fleet status --name ${options.name}\``,
    );
    return ExitCode.Done;
  });
}

export async function fleetStatus(options: FleetStatusOptions): Promise<number> {
  return withTemporal(async (client, temporal) => {
    const state = await fleetState(client, options.name, temporal.taskQueue);
    const failure = state.running ? undefined : state.failure;
    const unpolled = state.running ? state.unpolled : [];
    if (options.json)
      print(json({ ...state.progress, ...(failure && { failure }), ...(unpolled.length > 0 && { unpolled }) }));
    else
      print(
        [renderFleetProgress(state.progress, paint(), unpolled), failure && `${failure.type}: ${failure.message}`]
          .filter(Boolean)
          .join('\n'),
      );
    return failure ? ExitCode.Failed : ExitCode.Done;
  });
}

export async function fleetApprove(options: FleetNameOption): Promise<number> {
  return withTemporal(async (client) => {
    print(`Approved: ${await approveFleet(client, options.name)}`);
    return ExitCode.Done;
  });
}

export async function fleetAbort(options: FleetNameOption): Promise<number> {
  return withTemporal(async (client) => {
    const workflowId = await abortFleet(client, options.name);
    print(
      `Abort requested for ${workflowId}: it starts no new upgrade; those running finish (\`aegis-upgrade abort ` +
        `--env X\` rolls one back); watch it with \`aegis-upgrade fleet status --name ${options.name}\``,
    );
    return ExitCode.Done;
  });
}

/** Registers the upgrade's search attributes on the namespace; already registered ones are left as they are. */
export async function setup(): Promise<number> {
  return withTemporal(async (client, temporal) => {
    print(renderSetup(await setUpSearchAttributes(client.connection.operatorService, temporal.namespace)));
    return ExitCode.Done;
  });
}

export async function worker(): Promise<number> {
  // Imported here only: the other commands do not load the activities and their dependencies.
  const { runWorker } = await import('../worker.js');
  await runWorker();
  return ExitCode.Done;
}

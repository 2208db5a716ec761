/** What each command does once its arguments are parsed: the Temporal calls, then what they print. */
import { Client } from '@temporalio/client';
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
import { setUpSearchAttributes } from '../worker/search-attributes-registry';
import {
  renderEnvironments,
  renderHistory,
  renderOutcome,
  renderPlan,
  renderProgress,
  renderSchedules,
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
export type StartOptions = UpgradeOptions & { follow?: boolean };
export type PlanOptions = UpgradeOptions & { json?: boolean };
export type StatusOptions = EnvOption & { json?: boolean; follow?: boolean };
export type AbortOptions = EnvOption & { reason?: string };
export type ApproveOptions = EnvOption & { pod?: string };
export type HistoryOptions = EnvOption & { limit: number; json?: boolean };
export type UnlockOptions = EnvOption & { reason?: string };
export interface FleetNameOption {
  name: string;
}
export type FleetStartOptions = FleetOptions;
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

/** The task queue of the environment's worker: its upgrades, dry runs and unlocks go there, and nowhere else. */
const queueOf = (temporal: TemporalConfig, env: string) => taskQueueFor(env, temporal.taskQueue);

export async function start(version: string, options: StartOptions): Promise<number> {
  const request = upgradeRequest(version, options);
  return withTemporal(async (client, temporal) => {
    const handle = await startUpgrade(client, queueOf(temporal, options.env), request, options.env);
    print(`Started ${handle.workflowId} (run ${handle.firstExecutionRunId})`);
    if (!options.follow) return ExitCode.Done;
    return reportExitCode(await followUpgrade(handle, { paint: paint() }));
  });
}

export async function plan(version: string, options: PlanOptions): Promise<number> {
  const request = upgradeRequest(version, options);
  return withTemporal(async (client, temporal) => {
    const report = await planUpgrade(client, queueOf(temporal, options.env), request, options.env);
    print(options.json ? json(report) : renderPlan(report));
    return reportExitCode(report);
  });
}

export type ComponentStartOptions = ComponentOptions & { follow?: boolean };
export type ComponentPlanOptions = ComponentOptions & { json?: boolean };

export async function componentStart(component: string, version: string, options: ComponentStartOptions) {
  const request = componentRequest(component, version, options);
  return withTemporal(async (client, temporal) => {
    const handle = await startComponentUpgrade(client, queueOf(temporal, options.env), request, options.env);
    print(`Started ${handle.workflowId} (run ${handle.firstExecutionRunId}): ${component} ${version}`);
    if (!options.follow) return ExitCode.Done;
    return reportExitCode(await followUpgrade(handle, { paint: paint() }));
  });
}

export async function componentPlan(component: string, version: string, options: ComponentPlanOptions) {
  const request = componentRequest(component, version, options);
  return withTemporal(async (client, temporal) => {
    const report = await planComponent(client, queueOf(temporal, options.env), request, options.env);
    print(options.json ? json(report) : renderPlan(report));
    return reportExitCode(report);
  });
}

export async function status(options: StatusOptions): Promise<number> {
  return withTemporal(async (client) => {
    const handle = await findUpgrade(client, options.env);
    if (options.follow) return reportExitCode(await followUpgrade(handle, { paint: paint() }));
    const state = await upgradeState(handle);
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
    print(renderUnlock(await unlockDeployment(client, queueOf(temporal, options.env), options.env, request)));
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

export async function fleetStart(version: string, options: FleetOptions): Promise<number> {
  const request = fleetRequest(version, options);
  return withTemporal(async (client, temporal) => {
    const handle = await startFleet(client, fleetTaskQueue(temporal.taskQueue), request, options.name);
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

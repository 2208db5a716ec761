/** The fleet's operations: its request from the command line, and the Temporal calls of `aegis-upgrade fleet …`. */
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  type Client,
  type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import {
  FLEET_WORKFLOW_TYPE,
  approveWaveSignal,
  fleetProgressQuery,
  fleetWorkflowId,
  type FleetProgress,
  type FleetRequest,
} from '../core/fleet';
import {
  FLEET_FIELDS,
  InvalidFleetRequest,
  parseFleetRequest,
  type NOT_FOR_FLEETS,
  type ParsedFleetRequest,
} from '../core/fleet-request';
import { checkEnvironmentName, taskQueueFor } from '../core/environments';
import { parseOperatorAction, type OperatorAction } from '../core/operator-actions';
import { WORKER_POLLED_WITHIN_MS, workerPolling } from './workers';
import { UsageError } from './errors';
import { requestFieldsOf, type RequestFlagValues } from './request-options';

/** What `fleet plan` and `fleet start` read from the command line: the fleet's flags, and each environment's upgrade's. */
export type FleetOptions = FleetFlagValues & Omit<RequestFlagValues, (typeof NOT_FOR_FLEETS)[number]>;

/** The fleet's fields a flag gives as the request takes them (`--wave-size` → `waveSize`); the others are converted. */
const CONVERTED = ['targetVersion', 'environments', 'canary', 'onBudgetExceeded'] as const;
type FlagField = Exclude<(typeof FLEET_FIELDS)[number], (typeof CONVERTED)[number]>;
const FLEET_FLAG_FIELDS = FLEET_FIELDS.filter(
  (field): field is FlagField => !(CONVERTED as readonly string[]).includes(field),
);

interface FleetFlagValues extends Pick<FleetRequest, FlagField> {
  /** The fleet's name: its workflow is aegis-fleet-<name>. */
  name: string;
  /** Comma-separated, as `environments` and `canary` are given on the command line. */
  envs: string;
  canary?: string;
  /** Checked by the request's parser, which names the policies. */
  onBudgetExceeded?: string;
}

const list = (value: string | undefined) =>
  value === undefined ? undefined : value.split(',').flatMap((item) => (item.trim() ? [item.trim()] : []));

/** The fleet request the options describe, checked by the one parser the workflow runs too. */
export function fleetRequest(targetVersion: string, options: FleetOptions): FleetRequest {
  const request = {
    targetVersion,
    environments: list(options.envs) ?? [],
    canary: list(options.canary),
    onBudgetExceeded: options.onBudgetExceeded,
    ...Object.fromEntries(FLEET_FLAG_FIELDS.map((field) => [field, options[field]])),
    ...requestFieldsOf(options),
  };
  const given = Object.fromEntries(Object.entries(request).filter(([, value]) => value !== undefined));
  checkedFleet(given);
  return given as unknown as FleetRequest;
}

/** The shared parser's verdict, as the CLI reports a bad argument (exit 2). */
export function checkedFleet(input: unknown): ParsedFleetRequest {
  try {
    return parseFleetRequest(input);
  } catch (error) {
    if (error instanceof InvalidFleetRequest) throw new UsageError(error.message, { cause: error });
    throw error;
  }
}

/** A fleet's name is in its workflow ID: the same safe charset as an environment's. */
export function checkedFleetName(name: string): string {
  try {
    return checkEnvironmentName(name, '--name');
  } catch (error) {
    throw new UsageError((error as Error).message, { cause: error });
  }
}

/** Starts `aegis-fleet-<name>` on the fleet queue; refused while a fleet of that name runs. */
export async function startFleet(
  client: Client,
  fleetQueue: string,
  request: FleetRequest,
  name: string,
): Promise<WorkflowHandleWithFirstExecutionRunId> {
  const workflowId = fleetWorkflowId(checkedFleetName(name));
  try {
    return await client.workflow.start(FLEET_WORKFLOW_TYPE, {
      taskQueue: fleetQueue,
      workflowId,
      args: [request],
      memo: { toVersion: request.targetVersion, environments: request.environments.length },
    });
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) {
      throw new UsageError(
        `Fleet ${workflowId} is already running: watch it with \`aegis-upgrade fleet status --name ${name}\` or stop ` +
          `it with \`aegis-upgrade fleet abort --name ${name}\``,
        { cause: error },
      );
    }
    throw error;
  }
}

/** A fleet's progress: live while it runs, else what it ended with (and why, when it failed). */
export type FleetState =
  | { running: true; progress: FleetProgress; unpolled: UnpolledQueue[] }
  | { running: false; progress: FleetProgress; failure?: { type: string; message: string } };

/** An environment the fleet waits for whose queue no worker polled within the last minute. */
export interface UnpolledQueue {
  environment: string;
  taskQueue: string;
}

/** `defaultQueue` is `AEGIS_TASK_QUEUE`: each environment's queue derives from it. */
export async function fleetState(client: Client, name: string, defaultQueue: string): Promise<FleetState> {
  const handle = client.workflow.getHandle(fleetWorkflowId(checkedFleetName(name)));
  const described = await handle.describe().catch(() => undefined);
  if (!described) throw new UsageError(`No fleet named ${name} has run: start one with \`aegis-upgrade fleet start\``);
  if (described.status.name === 'RUNNING') {
    const progress = await handle.query(fleetProgressQuery);
    return { running: true, progress, unpolled: await unpolledQueues(client, progress, defaultQueue) };
  }
  try {
    return { running: false, progress: (await handle.result()) as FleetProgress };
  } catch (error) {
    if (error instanceof WorkflowFailedError && error.cause instanceof ApplicationFailure) {
      const progress = error.cause.details?.[0] as FleetProgress | undefined;
      const failure = { type: error.cause.type ?? 'Error', message: error.cause.message };
      if (progress) return { running: false, progress, failure };
    }
    throw error;
  }
}

/** The environments the fleet waits for (upgrading, baking, rolling back) whose worker does not poll their queue. */
async function unpolledQueues(client: Client, progress: FleetProgress, defaultQueue: string): Promise<UnpolledQueue[]> {
  const waitedFor = progress.environments.filter((entry) =>
    ['upgrading', 'baking', 'rolling-back'].includes(entry.phase),
  );
  const now = Date.now();
  const polled = await Promise.all(
    waitedFor.map(async ({ environment }) => {
      const taskQueue = taskQueueFor(environment, defaultQueue);
      const polling = await workerPolling(client, taskQueue, now, WORKER_POLLED_WITHIN_MS);
      return polling ? [] : [{ environment, taskQueue }];
    }),
  );
  return polled.flat();
}

export async function approveFleet(client: Client, name: string, action: OperatorAction): Promise<string> {
  const approval = parseOperatorAction(action);
  if (typeof approval === 'string') throw new UsageError(`Approval not sent: ${approval}`);
  const handle = client.workflow.getHandle(fleetWorkflowId(checkedFleetName(name)));
  const progress = await handle.query(fleetProgressQuery);
  if (progress.phase !== 'waiting-for-approval') {
    throw new UsageError(
      `Fleet ${handle.workflowId} waits for no approval now (it is ${progress.phase}, wave ${progress.wave + 1} of ` +
        `${progress.waves}): approve when \`aegis-upgrade fleet status --name ${name}\` says waiting-for-approval`,
    );
  }
  await handle.signal(approveWaveSignal, approval);
  return `wave ${progress.wave + 1} of ${progress.waves} of ${handle.workflowId}`;
}

/**
 * Cancels the fleet: it starts no new upgrade, lets the running ones finish (none is cut half-way), and ends stopped.
 * A running environment's upgrade is rolled back by `aegis-upgrade abort --env X`.
 */
export async function abortFleet(client: Client, name: string): Promise<string> {
  const handle = client.workflow.getHandle(fleetWorkflowId(checkedFleetName(name)));
  await handle.cancel();
  return handle.workflowId;
}

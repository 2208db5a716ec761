import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { environmentOfWorkflowId } from '../core/environments';
import { upgradeWorkflowId } from '../core/upgrade';
import { readDeployEnv } from './env-file';
import { WRONG_ENVIRONMENT } from '../core/errors';

/** The line of a deployment's `.env` that says which environment it is: optional, checked when present. */
export const ENVIRONMENT_MARKER_KEY = 'AEGIS_ENVIRONMENT';

/** The environment a worker serves, and what its deployment says it is. */
export interface ServedEnvironment {
  environment: string;
  /** The deployment's checkout, for messages. */
  root: string;
  /** The environment the deployment names (`AEGIS_ENVIRONMENT` in its `.env`), if it names one. */
  deploymentEnvironment(): Promise<string | undefined>;
}

/** Reads the marker from the checkout's `.env`; a missing `.env` names none (pre-flight reports it as missing). */
export async function deploymentEnvironmentOf(root: string): Promise<string | undefined> {
  try {
    return (await readDeployEnv(root)).get(ENVIRONMENT_MARKER_KEY)?.trim() || undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Activities a fleet asks of each environment on that environment's queue: the fleet's workflow ID names no environment,
 * so their input names the one meant (`{ environment }`), and the guard checks that instead.
 */
export const FLEET_ACTIVITIES: readonly string[] = ['checkHealth'];

/**
 * Why a worker of `served` must not run an activity of `workflowId`, or undefined when it may. `requested`: the
 * environment a fleet activity's input names (FLEET_ACTIVITIES).
 */
export async function wrongEnvironment(
  served: ServedEnvironment,
  workflowId: string,
  requested?: string,
): Promise<string | undefined> {
  const { environment, root } = served;
  const named = requested ?? environmentOfWorkflowId(workflowId);
  if (requested !== undefined && requested !== environment) {
    return (
      `Workflow \`${workflowId}\` asked this of environment ${requested}, but this worker serves environment ` +
      `${environment} (deployment ${root}): the task was routed to the wrong task queue`
    );
  }
  if (named === undefined) {
    return (
      `Workflow \`${workflowId}\` names no environment, and this worker serves environment ${environment} ` +
      `(deployment ${root}): start its upgrades as ${upgradeWorkflowId(environment)}, on its task queue`
    );
  }
  if (named !== environment) {
    return (
      `Workflow \`${workflowId}\` is for environment ${named}, but this worker serves environment ${environment} ` +
      `(deployment ${root}): the task was routed to the wrong task queue. Nothing was changed; start it again with ` +
      `\`aegis-upgrade start --env ${named}\`, which routes it to ${named}'s worker`
    );
  }
  const marked = await served.deploymentEnvironment();
  if (marked !== undefined && marked !== environment) {
    return (
      `Deployment ${root} is environment ${marked} (${ENVIRONMENT_MARKER_KEY} in its .env), but this worker serves ` +
      `environment ${environment}: nothing was changed; fix the worker's ${ENVIRONMENT_MARKER_KEY} or AEGIS_ROOT`
    );
  }
  return undefined;
}

/** Fails the activity, changing nothing, unless it runs for the environment this worker serves. */
export async function checkEnvironment(served: ServedEnvironment, requested?: string): Promise<void> {
  const { workflowExecution, activityType } = Context.current().info;
  const why = await wrongEnvironment(served, workflowExecution?.workflowId ?? '', requested);
  if (why !== undefined) {
    throw ApplicationFailure.create({
      type: WRONG_ENVIRONMENT,
      message: `${activityType} refused: ${why}`,
      nonRetryable: true,
    });
  }
}

type Activity = (...args: never[]) => Promise<unknown>;

/** Every activity of `activities`, each checking first that it runs for the environment this worker serves. */
export function guardEnvironment<Activities extends Record<string, Activity>>(
  activities: Activities,
  served: ServedEnvironment,
): Activities {
  const guarded = Object.entries(activities).map(([name, activity]) => [
    name,
    async (...args: Parameters<typeof activity>) => {
      const requested = FLEET_ACTIVITIES.includes(name) ? requestedEnvironment(args[0]) : undefined;
      await checkEnvironment(served, requested);
      return activity(...args);
    },
  ]);
  return Object.fromEntries(guarded) as Activities;
}

/** The environment a fleet activity's input names; an input naming none is refused as naming the empty one. */
function requestedEnvironment(input: unknown): string {
  const environment = (input as { environment?: unknown } | undefined)?.environment;
  return typeof environment === 'string' ? environment : '';
}

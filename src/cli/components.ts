/** `aegis-upgrade component plan|start`: a component upgrade's request, started as the environment's upgrade. */
import type { Client, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import {
  COMPONENT_WORKFLOW_TYPE,
  parseComponentRequest,
  type ComponentUpgradeRequest,
  type ParsedComponentRequest,
} from '../core/components';
import type { UpgradeReport } from '../core/upgrade';
import { InvalidUpgradeRequest } from '../core/upgrade-request';
import { UsageError } from './errors';
import { planEnvironmentUpgrade, startEnvironmentUpgrade, type EnvironmentUpgradeStart } from './upgrades';

export interface ComponentOptions {
  env: string;
  allowUnsupported?: boolean;
}

/** The shared parser's verdict on the command's arguments, as the CLI reports a bad argument (exit 2). */
export function componentRequest(component: string, targetVersion: string, options: ComponentOptions) {
  const input: Partial<ComponentUpgradeRequest> = {
    component: component as ComponentUpgradeRequest['component'],
    targetVersion,
    // Only when given: a flag left out is the request's default.
    ...(options.allowUnsupported && { allowUnsupported: true }),
  };
  try {
    return parseComponentRequest(input);
  } catch (error) {
    if (error instanceof InvalidUpgradeRequest) throw new UsageError(error.message, { cause: error });
    throw error;
  }
}

function startOf(
  request: ParsedComponentRequest,
  taskQueue: string,
  env: string,
  what: string,
): EnvironmentUpgradeStart {
  const toVersion = `${request.component} ${request.targetVersion}`;
  return {
    workflowType: COMPONENT_WORKFLOW_TYPE,
    taskQueue,
    env,
    request,
    toVersion,
    summary: `${what} of ${env}: ${toVersion}`,
  };
}

/** Starts the component upgrade as `aegis-upgrade-<env>`: refused while any upgrade of the environment runs. */
export function startComponentUpgrade(
  client: Client,
  taskQueue: string,
  request: ParsedComponentRequest,
  env: string,
): Promise<WorkflowHandleWithFirstExecutionRunId> {
  return startEnvironmentUpgrade(client, startOf(request, taskQueue, env, 'Component upgrade'));
}

/** Its dry run: the read-only pre-flight on the worker, which says minor or major, or why it is refused. */
export function planComponent(
  client: Client,
  taskQueue: string,
  request: ParsedComponentRequest,
  env: string,
  timeoutMs: number,
): Promise<UpgradeReport> {
  return planEnvironmentUpgrade(client, timeoutMs, startOf(request, taskQueue, env, 'Component upgrade plan'));
}

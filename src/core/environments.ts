/**
 * An environment is one AEGIS deployment with its own worker. Its name routes its upgrades (a task queue of its own)
 * and is in every workflow ID the CLI makes for it, so an activity can tell whose deployment it was meant for.
 * Pure: the CLI, the worker and the activities import it.
 */
import { DEFAULT_TASK_QUEUE, upgradeWorkflowId } from './upgrade';

/** The environment of a single deployment: its upgrades keep today's names and task queue. */
export const DEFAULT_ENVIRONMENT = 'default';

/**
 * A DNS label: lowercase letters, digits and inner hyphens, at most 63 characters. Safe as it is in a task queue, a
 * workflow ID and a visibility query (no quote, space or `:`), and never mistaken for the time a schedule appends.
 */
const ENVIRONMENT_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** A name that is no environment name; `source` says where it came from (`--env`, `AEGIS_ENVIRONMENT`). */
export class InvalidEnvironmentName extends Error {
  override readonly name = 'InvalidEnvironmentName';
  constructor(
    readonly source: string,
    readonly given: string,
  ) {
    super(
      `Expected ${source} to be an environment name like staging or eu-west-1 (lowercase letters, digits and ` +
        `inner hyphens, at most 63), got \`${given.slice(0, 80)}\``,
    );
  }
}

export function isEnvironmentName(name: string): boolean {
  return ENVIRONMENT_NAME.test(name);
}

/** The one check of an environment name, wherever one comes in; returns it. */
export function checkEnvironmentName(name: string, source: string): string {
  if (!isEnvironmentName(name)) throw new InvalidEnvironmentName(source, name);
  return name;
}

/**
 * The task queue of an environment's worker: `defaultQueue` (`AEGIS_TASK_QUEUE`) for `default`, so a single
 * deployment keeps the queue it had, and `<defaultQueue>-<env>` for any other.
 */
export function taskQueueFor(environment: string, defaultQueue = DEFAULT_TASK_QUEUE): string {
  return environment === DEFAULT_ENVIRONMENT ? defaultQueue : `${defaultQueue}-${environment}`;
}

/** A dry run's workflow ID: the environment and the time it was asked for. */
export function planWorkflowId(environment: string, now: number): string {
  return `aegis-plan-${environment}-${now}`;
}

/** The time a schedule appends to its workflow ID (`-2026-06-07T03:00:00Z`), with milliseconds if any. */
const START_TIME = '-\\d{4}-\\d{2}-\\d{2}T[\\d:.]+Z';

/**
 * The workflow IDs that name an environment, each with the environment first: upgrades (`upgradeWorkflowId`, and a
 * schedule's, its start time appended), dry runs (`planWorkflowId`), unlocks (`unlockWorkflowId`, or the
 * `aegis-unlock-<env>-<n>` of docs/temporal-recipes.md). The test of this file checks each against the function that
 * makes it.
 */
const ID_FORMS = [
  new RegExp(`^${upgradeWorkflowId('')}(.+?)(?:${START_TIME})?$`),
  new RegExp(`^aegis-plan-(.+)-\\d+$`),
  new RegExp(`^aegis-unlock-(.+?)(?:${START_TIME}|-\\d+)$`),
];

/** The environment a workflow ID names, or undefined for an ID of no known form. */
export function environmentOfWorkflowId(workflowId: string): string | undefined {
  for (const form of ID_FORMS) {
    const environment = form.exec(workflowId)?.[1];
    if (environment !== undefined) return isEnvironmentName(environment) ? environment : undefined;
  }
  return undefined;
}

/** The visibility queries of `status` and `history`: the server filters on the upgrade's search attributes. */
import type { WorkflowExecutionInfo } from '@temporalio/client';
import { AegisEnvironment } from '../core/search-attributes';
import { InvalidEnvironmentName, isEnvironmentName } from '../core/environments';
import { upgradeWorkflowId, type UpgradeMemo } from '../core/upgrade';
import { UsageError } from './errors';
import { ENVIRONMENT_UPGRADE_TYPES } from '../core/components';

/** Quotes, backslashes and control characters: what a query literal would have to escape. */
const NEEDS_ESCAPE = /['"\\\p{Cc}]/u;

/**
 * `value` as a literal of a visibility query. Escapes are not portable across visibility stores (on the dev server's
 * SQLite, `'a\\b'` does not find `a\b`), so a value that would need one is refused rather than escaped.
 */
export function queryLiteral(value: string): string {
  if (NEEDS_ESCAPE.test(value)) {
    throw new UsageError(
      `Cannot look for \`${value.slice(0, 64)}\` on the server: quotes, backslashes and control characters are not allowed`,
    );
  }
  return `'${value}'`;
}

/** The environment's name, checked before it goes into any query or ID. */
export function checkedEnvironment(env: string): string {
  if (!isEnvironmentName(env)) throw new UsageError(new InvalidEnvironmentName('--env', env).message);
  return env;
}

/**
 * The upgrades of an environment: those with its `AegisEnvironment`, and those started before the search attributes
 * existed (none set), by their workflow ID (`aegis-upgrade-<env>`, a schedule's suffixed), as `isUpgradeOf` finishes.
 */
export function environmentUpgradesQuery(env: string, { running = false } = {}): string {
  const name = queryLiteral(checkedEnvironment(env));
  const byId = `WorkflowId STARTS_WITH ${queryLiteral(upgradeWorkflowId(env))}`;
  const status = running ? " AND ExecutionStatus = 'Running'" : '';
  return (
    `(${ENVIRONMENT_UPGRADE_TYPES.map((type) => `WorkflowType = ${queryLiteral(type)}`).join(' OR ')}) AND ` +
    `(${AegisEnvironment.name} = ${name} OR (${AegisEnvironment.name} IS NULL AND ${byId}))${status}`
  );
}

/**
 * Whether a run the query found is an upgrade of `env`: its attribute says so. One from before the attributes, found
 * by its ID's prefix, only if its memo names `env` (`aegis-upgrade-prod` is a prefix of `aegis-upgrade-prod2`'s ID).
 */
export function isUpgradeOf(run: Pick<WorkflowExecutionInfo, 'typedSearchAttributes' | 'memo'>, env: string): boolean {
  const tagged = run.typedSearchAttributes.get(AegisEnvironment);
  if (tagged !== undefined) return tagged === env;
  return (run.memo as Partial<UpgradeMemo> | undefined)?.environment === env;
}

/** The server's refusal of a start, or of a query, naming a search attribute the namespace lacks (never set up). */
const UNREGISTERED = [
  /has no mapping defined for search attribute (\w+)/,
  /column name '(\w+)' is not a valid search attribute/,
];

/** A call the server refused for a search attribute it does not know, as what to do about it; else undefined. */
export function unregisteredSearchAttributes(error: unknown): UsageError | undefined {
  for (let cause: unknown = error; cause instanceof Error; cause = cause.cause) {
    const message = cause.message;
    const name = UNREGISTERED.map((pattern) => pattern.exec(message)?.[1]).find(Boolean);
    if (name) {
      return new UsageError(
        `The Temporal namespace does not know the search attribute ${name}: run \`aegis-upgrade setup\` once to ` +
          'register the attributes upgrades are found by',
        { cause: error },
      );
    }
  }
  return undefined;
}

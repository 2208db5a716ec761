/**
 * Upgrades of the platform's third-party components (PostgreSQL, Temporal): the compatibility table, the request, and
 * the one check of a request against the version running, used by the CLI, pre-flight and the workflow alike.
 * Pure and deterministic: it is bundled into the workflow sandbox, so no Node built-in and no I/O.
 */
import { coerce, lt, parse, type SemVer } from 'semver';
import { UPGRADE_WORKFLOW_TYPE } from './upgrade';
import { InvalidUpgradeRequest, quote, typed } from './upgrade-request';

export const COMPONENT_WORKFLOW_TYPE = 'upgradeComponent';

/**
 * Every workflow that upgrades an environment under its upgrade ID and holds its lock: `status`, `history` and
 * `unlock` look for them all.
 */
export const ENVIRONMENT_UPGRADE_TYPES: readonly string[] = [UPGRADE_WORKFLOW_TYPE, COMPONENT_WORKFLOW_TYPE];

/**
 * The guide's compatibility table: its one row (runtime 0.x, pre-alpha) is the only published constraint. OpenBao is
 * checked wherever a pod of the deployment runs it.
 */
export const COMPATIBILITY = {
  temporal: ['1.22', '1.23'],
  postgresMinMajor: 15,
  openbaoMin: { major: 2, minor: 0 },
} as const;

export const COMPONENTS = ['postgres', 'temporal'] as const;
export type Component = (typeof COMPONENTS)[number];

/** The workflow's input; `parseComponentRequest` checks it whole before anything runs. */
export interface ComponentUpgradeRequest {
  component: Component;
  /** PostgreSQL `15.8`, `16` or `16.2`; Temporal `1.23` or `1.23.1`. */
  targetVersion: string;
  /** Temporal outside the runtime's supported range (COMPATIBILITY.temporal): refused unless true. @default false */
  allowUnsupported?: boolean;
  /** Only the read-only pre-flight: report the plan, change nothing, take no lock. @default false */
  dryRun?: boolean;
}

export type ParsedComponentRequest = Required<ComponentUpgradeRequest>;

/** How a component goes from one version to the next; each is its own procedure (workflows/upgrade-component.ts). */
export type ComponentStrategy = 'postgres-minor' | 'postgres-major' | 'temporal-minor';

/** What pre-flight decides from the request and the version running. */
export interface ComponentPlan {
  component: Component;
  strategy: ComponentStrategy;
  fromVersion: string;
  toVersion: string;
  /** The target runs already: nothing to do. */
  alreadyAtTarget: boolean;
  /** Set when the request went outside the compatibility table by `allowUnsupported`: the report says so. */
  override?: string;
}

const FIELDS = ['component', 'targetVersion', 'allowUnsupported', 'dryRun'] as const;
const POSTGRES_VERSION = /^(\d{1,3})(?:\.(\d{1,3}))?$/;
const TEMPORAL_VERSION = /^(\d{1,3})\.(\d{1,3})(?:\.(\d{1,3}))?$/;

/** Checks the request's shape and the compatibility table's bounds; throws InvalidUpgradeRequest naming each problem. */
export function parseComponentRequest(input: unknown): ParsedComponentRequest {
  if (Object.prototype.toString.call(input) !== '[object Object]') {
    throw new InvalidUpgradeRequest([
      `Expected the component upgrade request to be an object like {"component":"postgres","targetVersion":"16"}, got ${typed(input)}`,
    ]);
  }
  const given = Object.fromEntries(Object.entries(input as object).filter(([, value]) => value != null)) as Partial<
    Record<string, unknown>
  >;
  const problems = Object.keys(given)
    .filter((field) => !(FIELDS as readonly string[]).includes(field))
    .map((field) => `Unknown field ${quote(field)}: expected only ${FIELDS.join(', ')}`);
  for (const field of ['allowUnsupported', 'dryRun'] as const) {
    if (given[field] !== undefined && typeof given[field] !== 'boolean') {
      problems.push(`Expected \`${field}\` to be true or false, got ${typed(given[field])}`);
    }
  }
  const { component, targetVersion } = given;
  if (!(COMPONENTS as readonly unknown[]).includes(component)) {
    problems.push(`Expected \`component\` to be postgres or temporal, got ${typed(component ?? 'nothing')}`);
  } else if (typeof targetVersion !== 'string') {
    problems.push(`Expected \`targetVersion\` to be a ${component} version, got ${typed(targetVersion ?? 'nothing')}`);
  } else {
    problems.push(...targetProblems(component as Component, targetVersion, given.allowUnsupported === true));
  }
  if (problems.length > 0) throw new InvalidUpgradeRequest(problems);
  return {
    component: component as Component,
    targetVersion: targetVersion as string,
    allowUnsupported: given.allowUnsupported === true,
    dryRun: given.dryRun === true,
  };
}

function targetProblems(component: Component, target: string, allowUnsupported: boolean): string[] {
  if (component === 'postgres') {
    const match = POSTGRES_VERSION.exec(target);
    if (!match)
      return [`Expected \`targetVersion\` to be a PostgreSQL version like 15.8, 16 or 16.2, got ${quote(target)}`];
    return Number(match[1]) < COMPATIBILITY.postgresMinMajor
      ? [`PostgreSQL ${target} is not supported: AEGIS needs PostgreSQL ${COMPATIBILITY.postgresMinMajor}+`]
      : [];
  }
  const match = TEMPORAL_VERSION.exec(target);
  if (!match) return [`Expected \`targetVersion\` to be a Temporal version like 1.23 or 1.23.1, got ${quote(target)}`];
  if (allowUnsupported || isSupportedTemporal(target)) return [];
  return [
    `Temporal ${target} is outside the range AEGIS runtime 0.x supports (${temporalRange()}): ` +
      'set `allowUnsupported` (--allow-unsupported) to go there anyway',
  ];
}

/**
 * The plan for a parsed request on the version running: minor or major, or a refusal (ComponentUpgradeRefused) of a
 * downgrade, a skipped Temporal minor (naming the steps to take) or an unknown running version.
 */
export function planComponentUpgrade(request: ParsedComponentRequest, fromVersion: string): ComponentPlan {
  const { component, targetVersion: toVersion } = request;
  return component === 'postgres'
    ? planPostgres(fromVersion, toVersion)
    : planTemporal(fromVersion, toVersion, request.allowUnsupported);
}

/** A request the running version rules out: nothing was changed. */
export class ComponentUpgradeRefused extends Error {
  override readonly name = 'ComponentUpgradeRefused';
}

function planPostgres(fromVersion: string, toVersion: string): ComponentPlan {
  const [from, to] = [postgresVersion(fromVersion), postgresVersion(toVersion)];
  if (!from || !to) throw new ComponentUpgradeRefused(`Cannot read PostgreSQL version ${quote(fromVersion)}`);
  if (to.major < from.major) {
    throw new ComponentUpgradeRefused(
      `PostgreSQL ${fromVersion} → ${toVersion} is a downgrade of the major version: a cluster cannot go back to an older major; nothing was changed`,
    );
  }
  // A target without a minor (`15`) is its major's newest release: only a named minor can be older than the running one.
  if (POSTGRES_VERSION.exec(toVersion)?.[2] !== undefined && lt(to, from)) {
    throw new ComponentUpgradeRefused(
      `PostgreSQL ${fromVersion} → ${toVersion} is a downgrade: it would go back without a backup, on data files ` +
        `${fromVersion} wrote; name ${fromVersion} or a newer minor; nothing was changed`,
    );
  }
  return {
    component: 'postgres',
    strategy: to.major === from.major ? 'postgres-minor' : 'postgres-major',
    fromVersion,
    toVersion,
    alreadyAtTarget: fromVersion === toVersion,
  };
}

/** `15.18` as 15.18.0, `16` as 16.0.0, for semver's order; undefined when it is no PostgreSQL version. */
function postgresVersion(version: string): SemVer | undefined {
  return (POSTGRES_VERSION.test(version) && coerce(version)) || undefined;
}

function planTemporal(fromVersion: string, toVersion: string, allowUnsupported: boolean): ComponentPlan {
  const [from, to] = [temporalVersion(fromVersion), temporalVersion(toVersion)];
  if (!from || !to) throw new ComponentUpgradeRefused(`Cannot read Temporal version ${quote(fromVersion)}`);
  if (from.major !== to.major) {
    throw new ComponentUpgradeRefused(
      `Temporal ${fromVersion} → ${toVersion} changes the major version: not supported`,
    );
  }
  if (lt(to, from)) {
    // Within one minor, `1.22` reads as "any 1.22" to an operator: say which release it deploys.
    const deploys =
      to.minor === from.minor && to.version !== toVersion ? ` (${toVersion} deploys auto-setup:${to.version})` : '';
    throw new ComponentUpgradeRefused(
      `Temporal ${fromVersion} → ${toVersion} is a downgrade${deploys}: an older server cannot run a migrated schema; nothing was changed`,
    );
  }
  if (to.minor > from.minor + 1) {
    const steps = Array.from(
      { length: to.minor - from.minor + 1 },
      (_, index) => `${from.major}.${from.minor + index}`,
    );
    throw new ComponentUpgradeRefused(
      `Temporal upgrades one minor version at a time: ${fromVersion} → ${toVersion} skips ${steps.slice(1, -1).join(', ')}; ` +
        `upgrade ${steps.join(' → ')}, one request per step; nothing was changed`,
    );
  }
  const supported = isSupportedTemporal(toVersion);
  return {
    component: 'temporal',
    strategy: 'temporal-minor',
    fromVersion,
    toVersion,
    alreadyAtTarget: from.compare(to) === 0,
    ...(!supported &&
      allowUnsupported && {
        override: `Temporal ${toVersion} is outside the supported range ${temporalRange()}: allowed by the request's allowUnsupported`,
      }),
  };
}

/** The auto-setup release a Temporal version deploys, in semver's order; undefined when it is no Temporal version. */
function temporalVersion(version: string): SemVer | undefined {
  return (TEMPORAL_VERSION.test(version) && parse(temporalImageTag(version))) || undefined;
}

/** `1.23` names `1.23.0`: what auto-setup's tags and the YAML call it. */
export function temporalImageTag(version: string): string {
  return /^\d+\.\d+$/.test(version) ? `${version}.0` : version;
}

export function isSupportedTemporal(version: string): boolean {
  const minor = /^(\d+\.\d+)/.exec(version)?.[1];
  return minor !== undefined && (COMPATIBILITY.temporal as readonly string[]).includes(minor);
}

function temporalRange(): string {
  return `${COMPATIBILITY.temporal[0]}–${COMPATIBILITY.temporal.at(-1)}`;
}

/** Whether an OpenBao version (`2.0.1`, `v2.1`) meets the table's `2.0+`; undefined when it cannot be read. */
export function openbaoSupported(version: string): boolean | undefined {
  const match = /^v?(\d+)\.(\d+)/.exec(version);
  if (!match) return undefined;
  const { major, minor } = COMPATIBILITY.openbaoMin;
  return Number(match[1]) > major || (Number(match[1]) === major && Number(match[2]) >= minor);
}

/**
 * The one check of a fleet request, and its waves: run by the fleet workflow before anything else, by the CLI before it
 * starts one, and by `fleet plan`. Pure and deterministic: bundled into the workflow sandbox, no Node built-in, no I/O.
 */
import { msToNumber, type StringValue } from '@temporalio/common/lib/time';
import { isEnvironmentName } from './environments';
import {
  DEFAULT_UPGRADE_START_DEADLINE,
  FLEET_SIZE_LIMIT,
  type BudgetPolicy,
  type FleetRequest,
  type FleetUpgradeOptions,
} from './fleet';
import {
  FIELD_LIMIT,
  InvalidUpgradeRequest,
  UPGRADE_REQUEST_FIELDS,
  parseUpgradeRequest,
  quote,
  tooManyFields,
  typed,
  type ParsedUpgradeRequest,
} from './upgrade-request';

/** A fleet request with its defaults applied, its waves planned and each environment's upgrade request parsed. */
export interface ParsedFleetRequest {
  targetVersion: string;
  environments: string[];
  /** Each wave's environments, in order; the canary's first. */
  waves: string[][];
  maxConcurrent?: number;
  bakeMs: number;
  bake?: string;
  approveBetweenWaves: boolean;
  failureBudget: number;
  /** The canary wave's own budget (`failureBudget` is for the waves after it). */
  canaryFailureBudget: number;
  /** The first wave is the canary's. */
  hasCanary: boolean;
  onBudgetExceeded: BudgetPolicy;
  restoreDatabaseOnWaveRollback: boolean;
  /** How long each upgrade may wait for its worker to take it, as given (or the default) and in ms. */
  upgradeStartDeadline: string;
  upgradeStartDeadlineMs: number;
  /** What each environment's upgrade gets (the same for all). */
  upgrade: ParsedUpgradeRequest;
}

export class InvalidFleetRequest extends Error {
  override readonly name = 'InvalidFleetRequest';
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
  }
}

/** The fleet's own request fields, beside the upgrade options it passes on. */
export const FLEET_FIELDS = [
  'targetVersion',
  'environments',
  'canary',
  'waveSize',
  'waveShare',
  'maxConcurrent',
  'bake',
  'approveBetweenWaves',
  'failureBudget',
  'canaryFailureBudget',
  'onBudgetExceeded',
  'restoreDatabaseOnWaveRollback',
  'upgradeStartDeadline',
] as const satisfies readonly (keyof FleetRequest)[];
/** Upgrade options no fleet passes on: a fleet is no dry run, and a downgrade names one environment's backup. */
export const NOT_FOR_FLEETS = ['dryRun', 'restoreFrom'] as const;
/** What a fleet passes on to each of its upgrades. */
const UPGRADE_OPTIONS = UPGRADE_REQUEST_FIELDS.filter(
  (name) =>
    !(FLEET_FIELDS as readonly string[]).includes(name) && !(NOT_FOR_FLEETS as readonly string[]).includes(name),
);
const POLICIES: readonly BudgetPolicy[] = ['stop', 'roll-back-wave'];
/** A bake longer than a week holds the fleet for nothing an operator would wait for. */
const BAKE_MS = { min: 1_000, max: 7 * 24 * 3_600_000 };
/** A live worker takes an upgrade within seconds; past a day, a fleet waits for a worker nobody is bringing back. */
const START_DEADLINE_MS = { min: 5_000, max: 24 * 3_600_000 };
const SHARE = /^(\d{1,3}(?:\.\d+)?)%$/;

type Fields = Partial<Record<string, unknown>>;

/** Checks the whole fleet request and returns it planned; throws InvalidFleetRequest naming every problem. */
export function parseFleetRequest(input: unknown): ParsedFleetRequest {
  if (Object.prototype.toString.call(input) !== '[object Object]') {
    throw new InvalidFleetRequest([
      `Expected the fleet request to be an object like {"targetVersion":"1.3.0","environments":["staging","prod"]}, got ${typed(input)}`,
    ]);
  }
  const size = Object.keys(input as object).length;
  if (size > FIELD_LIMIT)
    throw new InvalidFleetRequest([tooManyFields('fleet request', size, [...FLEET_FIELDS, ...UPGRADE_OPTIONS])]);
  const given: Fields = Object.fromEntries(Object.entries(input as object).filter(([, value]) => value != null));
  const problems = unknownFields(Object.keys(input as object));
  const upgradeFields = Object.fromEntries(
    Object.entries(given).filter(([field]) => (UPGRADE_REQUEST_FIELDS as readonly string[]).includes(field)),
  );
  let upgrade: ParsedUpgradeRequest | undefined;
  for (const field of NOT_FOR_FLEETS) {
    if (field in upgradeFields)
      problems.push(`\`${field}\` is not for a fleet: use \`aegis-upgrade plan\`/\`start\` --env`);
    delete upgradeFields[field];
  }
  try {
    upgrade = parseUpgradeRequest({ ...upgradeFields, targetVersion: given.targetVersion });
  } catch (error) {
    if (!(error instanceof InvalidUpgradeRequest)) throw error;
    problems.push(...error.problems);
  }
  const environments = environmentListProblems('environments', given.environments, problems, true);
  const canary = environmentListProblems('canary', given.canary, problems, false);
  const inFleet = new Set(environments);
  for (const name of canary ?? []) {
    if (environments && !inFleet.has(name)) {
      problems.push(`Expected \`canary\` to name environments of \`environments\`, got ${quote(name)}`);
    }
  }
  const waveSize = positiveInteger('waveSize', given.waveSize, problems);
  const maxConcurrent = positiveInteger('maxConcurrent', given.maxConcurrent, problems);
  const failureBudget = budgetOf('failureBudget', given.failureBudget, problems);
  const canaryFailureBudget = budgetOf('canaryFailureBudget', given.canaryFailureBudget, problems);
  if (given.canaryFailureBudget !== undefined && Array.isArray(canary) && canary.length === 0) {
    problems.push('`canaryFailureBudget` is for the canary wave, and `canary` is [] (no canary wave): leave it out');
  }
  const share = shareOf(given.waveShare, problems);
  if (waveSize !== undefined && share !== undefined) problems.push('Give `waveSize` or `waveShare`, not both');
  const bakeMs = bakeOf(given.bake, problems);
  const upgradeStartDeadline = (given.upgradeStartDeadline ?? DEFAULT_UPGRADE_START_DEADLINE) as string;
  const upgradeStartDeadlineMs = startDeadlineOf(upgradeStartDeadline, problems);
  for (const field of ['approveBetweenWaves', 'restoreDatabaseOnWaveRollback'] as const) {
    if (given[field] !== undefined && typeof given[field] !== 'boolean') {
      problems.push(`Expected \`${field}\` to be true or false, got ${typed(given[field])}`);
    }
  }
  const policy = given.onBudgetExceeded ?? 'stop';
  if (!POLICIES.includes(policy as BudgetPolicy)) {
    problems.push(`Expected \`onBudgetExceeded\` to be one of ${POLICIES.join(', ')}, got ${typed(policy)}`);
  } else if (given.restoreDatabaseOnWaveRollback !== undefined && policy !== 'roll-back-wave') {
    problems.push(
      '`restoreDatabaseOnWaveRollback` is for `onBudgetExceeded: roll-back-wave`: add it or leave this out',
    );
  }
  if (problems.length > 0 || !upgrade || !environments) throw new InvalidFleetRequest(problems);
  const waves = planWaves(environments, { canary, waveSize, share });
  return {
    targetVersion: upgrade.targetVersion,
    environments,
    waves,
    ...(maxConcurrent !== undefined && { maxConcurrent }),
    bakeMs,
    ...(bakeMs > 0 && { bake: given.bake as string }),
    approveBetweenWaves: given.approveBetweenWaves === true,
    failureBudget,
    canaryFailureBudget,
    hasCanary: canary === undefined || canary.length > 0,
    onBudgetExceeded: policy as BudgetPolicy,
    restoreDatabaseOnWaveRollback: given.restoreDatabaseOnWaveRollback === true,
    upgradeStartDeadline,
    upgradeStartDeadlineMs,
    upgrade,
  };
}

/**
 * The waves: the canary's environments first (default: the first environment; `[]`: no canary wave), then the rest in
 * their order, `waveSize` at a time, or `share` percent of the whole fleet rounded up, or all in one wave.
 */
export function planWaves(
  environments: readonly string[],
  { canary, waveSize, share }: { canary?: readonly string[]; waveSize?: number; share?: number },
): string[][] {
  const first = canary ?? environments.slice(0, 1);
  const inFirst = new Set(first);
  const rest = environments.filter((name) => !inFirst.has(name));
  const size = waveSize ?? (share !== undefined ? Math.ceil((environments.length * share) / 100) : rest.length);
  const waves = first.length > 0 ? [[...first]] : [];
  for (let start = 0; start < rest.length; start += Math.max(size, 1)) waves.push(rest.slice(start, start + size));
  return waves;
}

/** The per-environment options of a fleet request, as each of its upgrades gets them. */
export function upgradeOptionsOf(request: ParsedFleetRequest): FleetUpgradeOptions {
  const options: Partial<ParsedUpgradeRequest> = { ...request.upgrade };
  delete options.targetVersion;
  delete options.dryRun;
  return options;
}

function environmentListProblems(
  field: 'environments' | 'canary',
  value: unknown,
  problems: string[],
  required: boolean,
): string[] | undefined {
  if (value === undefined) {
    if (required)
      problems.push(`Expected \`${field}\` to list environments like ["staging","production"], got nothing`);
    return undefined;
  }
  // Refused by its length before any name is read: each check below is linear, but a list may be megabytes.
  if (Array.isArray(value) && value.length > FLEET_SIZE_LIMIT) {
    problems.push(`A fleet takes at most ${FLEET_SIZE_LIMIT} environments, got ${value.length}: split it`);
    return undefined;
  }
  if (!Array.isArray(value) || value.some((name) => typeof name !== 'string')) {
    problems.push(`Expected \`${field}\` to be a list of environment names, got ${typed(value)}`);
    return undefined;
  }
  const names = value as string[];
  const before = problems.length;
  if (required && names.length === 0) problems.push('Expected `environments` to list at least one environment');
  const invalid = names.filter((name) => !isEnvironmentName(name));
  if (invalid.length > 0) {
    problems.push(
      `Expected \`${field}\` to hold environment names (lowercase letters, digits and inner hyphens), got ${invalid
        .slice(0, 5)
        .map(quote)
        .join(', ')}`,
    );
  }
  const [seen, repeated] = [new Set<string>(), new Set<string>()];
  for (const name of names) (seen.has(name) ? repeated : seen).add(name);
  if (repeated.size > 0) problems.push(`\`${field}\` names ${[...repeated].map(quote).join(', ')} twice`);
  return problems.length === before ? names : undefined;
}

/** Fields neither of the fleet nor of its upgrades: each named, with the fields a fleet request takes. */
function unknownFields(names: string[]): string[] {
  const known: readonly string[] = [...FLEET_FIELDS, ...UPGRADE_REQUEST_FIELDS];
  return names
    .filter((field) => !known.includes(field))
    .map(
      (field) =>
        `Unknown field ${quote(field)}: expected the fleet's (${FLEET_FIELDS.join(', ')}) or its upgrades' ` +
        `(${UPGRADE_OPTIONS.join(', ')})`,
    );
}

function positiveInteger(field: string, value: unknown, problems: string[]): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number' && Number.isInteger(value) && value > 0) return value;
  problems.push(`Expected \`${field}\` to be a positive whole number, got ${typed(value)}`);
  return undefined;
}

/** A failure budget: absent is 0, a failure never passes unless the request says so. */
function budgetOf(field: 'failureBudget' | 'canaryFailureBudget', value: unknown, problems: string[]): number {
  if (value === undefined) return 0;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  const wave = field === 'failureBudget' ? 'a wave' : 'the canary wave';
  problems.push(`Expected \`${field}\` to be a whole number of failures ${wave} tolerates, got ${typed(value)}`);
  return 0;
}

function shareOf(value: unknown, problems: string[]): number | undefined {
  if (value === undefined) return undefined;
  const match = typeof value === 'string' ? SHARE.exec(value) : null;
  const share = Number(match?.[1]);
  if (match && share > 0 && share <= 100) return share;
  problems.push(`Expected \`waveShare\` to be a share of the fleet like 25%, got ${typed(value)}`);
  return undefined;
}

/** A duration like '15 minutes' in ms; undefined when it is none. */
function durationMs(value: unknown): number | undefined {
  try {
    return typeof value === 'string' ? msToNumber(value as StringValue) : undefined;
  } catch {
    return undefined;
  }
}

function startDeadlineOf(value: unknown, problems: string[]): number {
  const ms = durationMs(value);
  if (ms !== undefined && Number.isFinite(ms) && ms >= START_DEADLINE_MS.min && ms <= START_DEADLINE_MS.max) return ms;
  problems.push(
    `Expected \`upgradeStartDeadline\` to be a duration like '10 minutes', between 5 seconds and 1 day, got ${typed(value)}`,
  );
  return 0;
}

function bakeOf(value: unknown, problems: string[]): number {
  if (value === undefined) return 0;
  const ms = durationMs(value);
  if (ms !== undefined && Number.isFinite(ms) && ms >= BAKE_MS.min && ms <= BAKE_MS.max) return ms;
  problems.push(
    `Expected \`bake\` to be a duration like '15 minutes', between 1 second and 7 days, got ${typed(value)}`,
  );
  return 0;
}

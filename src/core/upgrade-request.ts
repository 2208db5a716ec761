/**
 * The upgrade request: its shape and its one check, run by the workflow before anything else and by the CLI before it
 * starts one. A new option is declared here and in the CLI's flag table (cli/request-options.ts). Pure and deterministic: it is bundled into the workflow sandbox, so no Node built-in and no I/O.
 */
import { msToNumber, type StringValue } from '@temporalio/common/lib/time';
import { ROLLING_ORDER, isImageTag, isPodName, type PodName } from './platform';

export type UpgradeStrategy = 'rolling' | 'full';
export type RestoreDatabasePolicy = 'auto' | 'always' | 'never';

/** The workflow's input; `parseUpgradeRequest` checks it whole before anything runs. */
export interface UpgradeRequest {
  /** The AEGIS image tag to upgrade to, e.g. `1.3.0`. */
  targetVersion: string;
  /** Pods to redeploy, in the order given. @default the rolling order, limited to the deployment profile's pods */
  pods?: PodName[];
  /** `rolling` redeploys pod by pod; `full` is the guide's teardown, deploy, bootstrap-secrets. @default 'rolling' */
  strategy?: UpgradeStrategy;
  /**
   * When a rollback restores the `aegis` database. `auto`: when `_sqlx_migrations` changed. On a downgrade, `never`
   * keeps the data unless the schema moved since `restoreFrom` (then it is restored). @default 'auto'
   */
  restoreDatabase?: RestoreDatabasePolicy;
  /** Pods before which the upgrade waits for an operator's `approve`. @default [] */
  approveBefore?: PodName[];
  /**
   * How long each approval gate waits (e.g. `30 minutes`; 1 second to 7 days) before the upgrade rolls back.
   * @default DEFAULT_APPROVAL_TIMEOUT (24 hours)
   */
  approvalTimeout?: string;
  /** Only the read-only pre-flight: report what would change, change nothing, take no lock. @default false */
  dryRun?: boolean;
  /**
   * Redeploy every pod of the profile, as the guide does, even a pod whose definition the new tag leaves as it is
   * (`database`, `observability`): by default those are not redeployed, their restart being downtime for nothing.
   * @default false
   */
  redeployAll?: boolean;
  /**
   * Once the runtime is up on the new version and its migrations are judged, redeploy the pods after it at once
   * (`temporal`, `seal-gateway`, `observability`) instead of one by one: shorter, and their downtimes overlap. Not with
   * an approval gate before one of them. @default false (the guide's order)
   */
  concurrentAfterCore?: boolean;
  /**
   * A downgrade's database: the backup (its directory name under the backup directory) taken when the platform
   * last left `targetVersion`; it is restored before the runtime's redeploy. Required to go to an older version.
   */
  restoreFrom?: string;
  /**
   * Let the redeploys pull third-party images on moving tags (`pgbouncer:latest`) anew: pre-flight refuses an upgrade
   * whose redeploys would run other images under such a tag than run now, unless this asks for them. @default false
   */
  refreshMovingImages?: boolean;
}

/**
 * How long an approval gate waits when the request names no `approvalTimeout`. A gate holds the deployment's lock
 * with pods on two versions, and a rollback from it discards the writes made since the backup: a day lets an operator
 * paged at 3 a.m. answer in working hours, without leaving a half-upgraded platform waiting for ever.
 */
export const DEFAULT_APPROVAL_TIMEOUT = '24 hours';

/** A request with its defaults applied: what the workflow runs. `pods` stays open: its default is the profile's. */
export type ParsedUpgradeRequest = UpgradeRequest &
  Required<Pick<UpgradeRequest, 'strategy' | 'restoreDatabase' | 'approveBefore' | 'dryRun'>>;

/** Every problem of a request, in one message. */
export class InvalidUpgradeRequest extends Error {
  override readonly name = 'InvalidUpgradeRequest';
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
  }
}

/** Every field of an upgrade request (a fleet request passes the others but targetVersion through to each upgrade). */
export const UPGRADE_REQUEST_FIELDS = [
  'targetVersion',
  'pods',
  'strategy',
  'restoreDatabase',
  'approveBefore',
  'approvalTimeout',
  'dryRun',
  'redeployAll',
  'concurrentAfterCore',
  'restoreFrom',
  'refreshMovingImages',
] as const satisfies readonly (keyof UpgradeRequest)[];
const FIELDS = UPGRADE_REQUEST_FIELDS;
export const STRATEGIES: readonly UpgradeStrategy[] = ['rolling', 'full'];
export const RESTORE_POLICIES: readonly RestoreDatabasePolicy[] = ['auto', 'always', 'never'];

/** An approval gate holds the deployment's lock with pods half-upgraded: a week is the longest wait that makes sense. */
const APPROVAL_TIMEOUT_MS = { min: 1_000, max: 7 * 24 * 3_600_000 };
const APPROVAL_TIMEOUT_RANGE = 'between 1 second and 7 days';
/** A value quoted in a message is cut: a request may be megabytes. */
const QUOTE_LIMIT = 64;
/** Past this many problems the message counts the rest: each is usually the same mistake again. */
const PROBLEM_LIMIT = 20;
/** More fields than this is no request anyone wrote: refused by its size, before any field is read. */
export const FIELD_LIMIT = 100;

type Fields = Partial<Record<string, unknown>>;

/** Checks the whole request and returns it with its defaults; throws InvalidUpgradeRequest naming every problem. */
export function parseUpgradeRequest(input: unknown): ParsedUpgradeRequest {
  if (!isPlainObject(input)) {
    throw new InvalidUpgradeRequest([
      `Expected the upgrade request to be an object like {"targetVersion":"1.3.0"}, got ${typed(input)}`,
    ]);
  }
  const size = Object.keys(input).length;
  if (size > FIELD_LIMIT) throw new InvalidUpgradeRequest([tooManyFields('upgrade request', size, FIELDS)]);
  // null is how many clients write a field they leave out: it counts as absent, like undefined.
  const given: Fields = Object.fromEntries(Object.entries(input).filter(([, value]) => value != null));
  const problems = [
    ...unknownFields(Object.keys(input)),
    ...targetVersionProblems(given.targetVersion),
    ...podListProblems('pods', given.pods),
    ...podListProblems('approveBefore', given.approveBefore),
    ...oneOfProblems('strategy', given.strategy, STRATEGIES),
    ...oneOfProblems('restoreDatabase', given.restoreDatabase, RESTORE_POLICIES),
    ...approvalTimeoutProblems(given.approvalTimeout),
    ...booleanProblems('dryRun', given.dryRun),
    ...booleanProblems('redeployAll', given.redeployAll),
    ...booleanProblems('concurrentAfterCore', given.concurrentAfterCore),
    ...booleanProblems('refreshMovingImages', given.refreshMovingImages),
    ...restoreFromProblems(given.restoreFrom),
    ...contradictions(given),
  ];
  if (problems.length > PROBLEM_LIMIT) {
    problems.splice(PROBLEM_LIMIT, Infinity, `and ${problems.length - PROBLEM_LIMIT} more problems`);
  }
  if (problems.length > 0) throw new InvalidUpgradeRequest(problems);
  // Every field was checked above.
  const request = given as unknown as UpgradeRequest;
  return {
    targetVersion: request.targetVersion,
    ...(request.pods && { pods: [...request.pods] }),
    strategy: request.strategy ?? 'rolling',
    restoreDatabase: request.restoreDatabase ?? 'auto',
    approveBefore: [...(request.approveBefore ?? [])],
    // Only with a gate to time out: the parsed request parses again (the CLI sends it to the workflow as it is).
    ...(request.approveBefore?.length && { approvalTimeout: request.approvalTimeout ?? DEFAULT_APPROVAL_TIMEOUT }),
    dryRun: request.dryRun ?? false,
    ...(request.redeployAll && { redeployAll: true }),
    ...(request.concurrentAfterCore && { concurrentAfterCore: true }),
    ...(request.restoreFrom !== undefined && { restoreFrom: request.restoreFrom }),
    ...(request.refreshMovingImages && { refreshMovingImages: true }),
  };
}

/**
 * The version a request asks for, for the report of a refused one: `?` when it is not a usable image tag.
 * Never throws, whatever the input.
 */
export function requestedVersion(input: unknown): string {
  const version = isPlainObject(input) ? (input as Fields).targetVersion : undefined;
  return typeof version === 'string' && isImageTag(version) ? version : '?';
}

/** Whether a request, as it came and not yet checked (it may be anything, `null` included), asks a dry run. */
export function asksDryRun(input: unknown): boolean {
  return isPlainObject(input) && (input as Fields).dryRun === true;
}

/** JSON's objects, in any realm (the workflow sandbox has its own `Object`): not arrays, not null. */
function isPlainObject(value: unknown): value is object {
  return Object.prototype.toString.call(value) === '[object Object]';
}

/** The refusal of a request too big to read: its fields are not checked one by one. */
export function tooManyFields(request: string, size: number, fields: readonly string[]): string {
  return `Expected the ${request} to have at most ${FIELD_LIMIT} fields, got ${size}: send only ${fields.join(', ')}`;
}

function unknownFields(names: string[]): string[] {
  return names
    .filter((field) => !(FIELDS as readonly string[]).includes(field))
    .map((field) => {
      const known = closest(field, FIELDS);
      return `Unknown field ${quote(field)}: ${known ? `did you mean \`${known}\`?` : `expected only ${FIELDS.join(', ')}`}`;
    });
}

function targetVersionProblems(value: unknown): string[] {
  if (typeof value === 'string' && isImageTag(value)) return [];
  const got = value === undefined ? 'nothing' : typeof value === 'string' ? quote(value) : typed(value);
  return [`Expected \`targetVersion\` to be an image tag like 1.3.0, got ${got}`];
}

function booleanProblems(
  field: 'dryRun' | 'redeployAll' | 'concurrentAfterCore' | 'refreshMovingImages',
  value: unknown,
): string[] {
  return value === undefined || typeof value === 'boolean'
    ? []
    : [`Expected \`${field}\` to be true or false, got ${typed(value)}`];
}

/** `pods` and `approveBefore`: known pods, each once. */
function podListProblems(field: 'pods' | 'approveBefore', value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) return [`Expected \`${field}\` to be a list of pods like ["core"], got ${typed(value)}`];
  if (field === 'pods' && value.length === 0) {
    return ['Expected `pods` to list at least one pod; leave it out to redeploy every pod of the profile'];
  }
  if (value.length > ROLLING_ORDER.length) {
    return [`Expected \`${field}\` to list at most ${ROLLING_ORDER.length} pods, each once, got ${value.length}`];
  }
  return value.flatMap((pod: unknown, index) => {
    if (typeof pod !== 'string') return [`Expected \`${field}\` to list pod names, got ${typed(pod)}`];
    if (!isPodName(pod)) {
      const known = closest(pod, ROLLING_ORDER);
      return [
        `Unknown pod ${quote(pod)} in \`${field}\`: ${known ? `did you mean \`${known}\`?` : `expected one of ${ROLLING_ORDER.join(', ')}`}`,
      ];
    }
    const second = value.indexOf(pod, value.indexOf(pod) + 1);
    return index === second ? [`\`${field}\` lists pod \`${pod}\` more than once`] : [];
  });
}

function oneOfProblems(field: string, value: unknown, allowed: readonly string[]): string[] {
  if (value === undefined || (typeof value === 'string' && allowed.includes(value))) return [];
  const choices = `${allowed.slice(0, -1).join(', ')} or ${allowed.at(-1)}`;
  return [`Expected \`${field}\` to be ${choices}, got ${typeof value === 'string' ? quote(value) : typed(value)}`];
}

/** Read as Temporal reads a duration (its own `ms` parser), so what passes here is what `condition` accepts. */
function approvalTimeoutProblems(value: unknown): string[] {
  if (value === undefined) return [];
  const expected = `Expected \`approvalTimeout\` to be a duration like 30 minutes or 2h, ${APPROVAL_TIMEOUT_RANGE}`;
  if (typeof value !== 'string') return [`${expected}, got ${typed(value)}`];
  let ms: number;
  try {
    ms = msToNumber(value as StringValue);
  } catch {
    return [`${expected}, got ${quote(value)}`];
  }
  return ms >= APPROVAL_TIMEOUT_MS.min && ms <= APPROVAL_TIMEOUT_MS.max ? [] : [`${expected}, got ${quote(value)}`];
}

/** A backup's directory name, as the upgrade names them (`20261126T031500Z-1.2.0-to-1.3.0`): never a path. */
const BACKUP_ID = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$/;

function restoreFromProblems(value: unknown): string[] {
  if (value === undefined || (typeof value === 'string' && BACKUP_ID.test(value))) return [];
  const got = typeof value === 'string' ? quote(value) : typed(value);
  return [`Expected \`restoreFrom\` to be a backup's directory name like 20261126T031500Z-1.3.0-to-1.4.0, got ${got}`];
}

/** Combinations the workflow would silently ignore. */
function contradictions(given: Fields): string[] {
  const problems: string[] = [];
  if (given.strategy === 'full') {
    if (given.pods !== undefined) {
      problems.push('`pods` cannot be used with strategy full: it tears down and deploys the whole profile');
    }
    if (given.approveBefore !== undefined) {
      problems.push('`approveBefore` cannot be used with strategy full: it has no step between pods to wait at');
    }
    if (given.redeployAll === true) {
      problems.push('`redeployAll` cannot be used with strategy full: it deploys the whole profile anyway');
    }
  }
  if (given.pods !== undefined && given.redeployAll === true) {
    problems.push('`redeployAll` cannot be used with `pods`: the pods listed are redeployed, changed or not');
  }
  const pods = validPodList('pods', given.pods);
  const approveBefore = validPodList('approveBefore', given.approveBefore);
  const unreached = pods && approveBefore?.filter((pod) => !pods.includes(pod));
  if (given.strategy !== 'full' && unreached && unreached.length > 0) {
    problems.push(
      `Expected \`approveBefore\` to name pods that \`pods\` redeploys, got ${unreached.map((pod) => `\`${pod}\``).join(', ')}: its gate would never be reached`,
    );
  }
  if (given.concurrentAfterCore === true) {
    const order = pods ?? ROLLING_ORDER;
    const afterCore = order.includes('core') ? order.slice(order.indexOf('core') + 1) : [];
    const gated = approveBefore?.filter((pod) => afterCore.includes(pod)) ?? [];
    if (given.strategy === 'full') {
      problems.push('`concurrentAfterCore` cannot be used with strategy full: it deploys the whole profile at once');
    } else if (gated.length > 0) {
      problems.push(
        `\`concurrentAfterCore\` cannot be used with an approval gate after core (${gated.map((pod) => `\`${pod}\``).join(', ')}): those pods are redeployed at once`,
      );
    }
  }
  const noGate = given.approveBefore === undefined || approveBefore?.length === 0;
  if (given.approvalTimeout !== undefined && noGate) {
    problems.push('`approvalTimeout` needs `approveBefore`: without an approval gate there is nothing to time out');
  }
  return problems;
}

/** The list if it is valid on its own, else undefined: its own problems are reported already. */
function validPodList(field: 'pods' | 'approveBefore', value: unknown): PodName[] | undefined {
  return value !== undefined && podListProblems(field, value).length === 0 ? (value as PodName[]) : undefined;
}

/** The known name a typo most likely meant: at most two edits apart, ignoring case, `_` and `-`. */
function closest(name: string, known: readonly string[]): string | undefined {
  const simple = (text: string) => text.toLowerCase().replace(/[-_]/g, '');
  if (name.length > QUOTE_LIMIT || simple(name).length < 3) return undefined;
  let best: { name: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(simple(name), simple(candidate));
    if (distance <= 2 && (!best || distance < best.distance)) best = { name: candidate, distance };
  }
  return best?.name;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours. */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number) => rows[i]?.[j] ?? Infinity;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let distance = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        distance = Math.min(distance, at(i - 2, j - 2) + 1);
      (rows[i] as number[])[j] = distance;
    }
  }
  return at(a.length, b.length);
}

/** A value as it was given, in backticks: control characters escaped (a newline shows as `\n`), cut when long. */
export function quote(text: string): string {
  // eslint-disable-next-line no-control-regex
  const visible = text.replace(/[\u0000-\u001f\u007f]/g, (char) => JSON.stringify(char).slice(1, -1));
  return `\`${visible.length > QUOTE_LIMIT ? `${visible.slice(0, QUOTE_LIMIT)}…` : visible}\``;
}

/** A value of the wrong type, as JSON, so `"false"` reads as the string it is. */
export function typed(value: unknown): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch {
    // A cycle or a BigInt: not from JSON, so from code, which reads the type well enough.
  }
  return quote(json ?? typeof value);
}

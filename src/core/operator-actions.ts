/**
 * What an operator's `approve` and `abortReason` signals carry, and the one parser of each: the CLI builds them with
 * it, the workflow reads them with it. Who (`by`) and why (`reason`) are recorded in the progress, the report and the
 * webhook messages. Older clients sent less (no input, `{"pod":…}`, or the abort reason as a bare string): still read.
 */
import { isPodName, type PodName } from './platform';
import { quote } from './upgrade-request';

/** Who and why, as an operator gives them. */
export interface OperatorAction {
  /** `user@host`, or what `--by` says. */
  by?: string;
  reason?: string;
}

/**
 * What an `approve` signal may carry: the pod whose gate it releases (`{"pod":"core"}`), taken only while the upgrade
 * waits at that gate, and who approved it, why. Without a pod (older clients, the `temporal workflow signal --name
 * approve` of docs/temporal-recipes.md), it releases the gate waiting when it arrives, if any. An approval no waiting
 * gate takes is refused and recorded in the notes.
 */
export interface Approval extends OperatorAction {
  pod?: PodName;
}

/** What the `abortReason` signal carries before the cancellation that rolls the upgrade back. */
export type AbortRequest = OperatorAction;

/** An approval that released a gate: shown by `status`, `history` and the webhooks. */
export interface ApprovalRecord extends OperatorAction {
  pod: PodName;
  /** When the workflow took it (ISO 8601). */
  at: string;
}

/** `by` and `reason` longer than this are refused: they are shown on one line. */
export const OPERATOR_TEXT_LIMIT = 500;

const isPlainObject = (input: unknown): input is Record<string, unknown> =>
  Object.prototype.toString.call(input) === '[object Object]';

function shown(input: unknown): string {
  try {
    return quote(JSON.stringify(input) ?? typeof input);
  } catch {
    return typeof input;
  }
}

/** `by` and `reason`, each absent or a non-empty line of text; the message says what is wrong. */
function readOperatorAction(fields: Record<string, unknown>): OperatorAction | string {
  const action: OperatorAction = {};
  for (const field of ['by', 'reason'] as const) {
    const value = fields[field];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string' || value.trim() === '' || value.length > OPERATOR_TEXT_LIMIT || value.includes('\n'))
      return `expected \`${field}\` to be one line of text up to ${OPERATOR_TEXT_LIMIT} characters, got ${shown(value)}`;
    action[field] = value.trim();
  }
  return action;
}

/** The `approve` signal's input: nothing, or `{"pod":"core","by":"ana@ops-1","reason":"…"}`; else why it is refused. */
export function parseApproval(input: unknown): Approval | string {
  if (input === undefined || input === null) return {};
  const expected = `expected no input or {"pod":"core","by":"user@host","reason":"…"}, got ${shown(input)}`;
  if (!isPlainObject(input)) return expected;
  const { pod, by, reason, ...others } = input;
  if (Object.keys(others).length > 0) return expected;
  const action = readOperatorAction({ by, reason });
  if (typeof action === 'string') return action;
  if (pod === undefined || pod === null) return action;
  if (typeof pod === 'string' && isPodName(pod)) return { pod, ...action };
  return expected;
}

/** The `abortReason` signal's input: a reason as a bare string (older clients), or `{"by":…,"reason":…}`. */
export function parseAbortRequest(input: unknown): AbortRequest | string {
  if (typeof input === 'string') return input.trim() ? { reason: input.trim() } : {};
  return parseOperatorAction(input);
}

/** Nothing, or `{"by":…,"reason":…}` (a fleet's `approveWave`, an abort); else why it is refused. */
export function parseOperatorAction(input: unknown): OperatorAction | string {
  if (input === undefined || input === null) return {};
  if (!isPlainObject(input)) return `expected {"by":"user@host","reason":"…"}, got ${shown(input)}`;
  const { by, reason, ...others } = input;
  if (Object.keys(others).length > 0) return `expected {"by":"user@host","reason":"…"}, got ${shown(input)}`;
  return readOperatorAction({ by, reason });
}

/** `by ana@ops-1: error rate up`, `by ana@ops-1`, `: error rate up`, or nothing: after "approved" or "cancelled". */
export function describeAction({ by, reason }: OperatorAction): string {
  return `${by ? ` by ${by}` : ''}${reason ? `: ${reason}` : ''}`;
}

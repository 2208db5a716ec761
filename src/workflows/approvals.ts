import type { Duration } from '@temporalio/common';
import { condition } from '@temporalio/workflow';
import { isPodName, type PodName } from '../platform';
import type { Approval } from '../upgrade';
import { quote } from '../upgrade-request';

/**
 * The upgrade's approval gates, each remembering its approval: an `approve` sent before its gate is reached is kept
 * for it, not lost. An approval naming a pod releases that pod's gate; one naming none releases the gate the upgrade
 * waits at, or else the next one not yet approved. An approval no gate can take is refused through `refuse`, which
 * the workflow records in the progress's notes for the operator to see.
 */
export class ApprovalGates {
  /** Unknown until the request is parsed: approvals that arrive before are kept and sorted out then. */
  private gates?: readonly PodName[];
  private readonly early: unknown[] = [];
  private readonly approved = new Set<PodName>();
  private readonly passed = new Set<PodName>();
  private waitingAt?: PodName;

  constructor(private readonly refuse: (note: string) => void) {}

  /** The gates of the parsed request, in the order the upgrade reaches them. */
  open(gates: readonly PodName[]): void {
    this.gates = gates;
    for (const input of this.early.splice(0)) this.receive(input);
  }

  /** One `approve` signal's input, as any client sent it. */
  receive(input: unknown): void {
    if (!this.gates) {
      this.early.push(input);
      return;
    }
    const approval = readApproval(input);
    if (typeof approval === 'string') return this.refuse(`Approval refused: ${approval}`);
    const pod =
      approval.pod ??
      (this.waitingAt && !this.approved.has(this.waitingAt) ? this.waitingAt : undefined) ??
      this.gates.find((gate) => !this.passed.has(gate) && !this.approved.has(gate));
    if (!pod) return this.refuse('Approval refused: no approval gate is left to release');
    if (!this.gates.includes(pod)) {
      const gates = this.gates.length > 0 ? this.gates.map((gate) => `\`${gate}\``).join(', ') : 'none';
      return this.refuse(`Approval for \`${pod}\` refused: the upgrade has no gate before it (gates: ${gates})`);
    }
    if (this.passed.has(pod)) return this.refuse(`Approval for \`${pod}\` refused: its gate was already passed`);
    if (this.approved.has(pod)) return this.refuse(`Approval for \`${pod}\` refused: its gate is already approved`);
    this.approved.add(pod);
  }

  isApproved(pod: PodName): boolean {
    return this.approved.has(pod);
  }

  /**
   * Waits at `pod`'s gate until it is approved; false once `timeout` passed without. With `earlierApprovals` false,
   * only an approval sent while waiting counts: the behaviour of upgrades started before approvals were remembered.
   */
  async await(pod: PodName, timeout: Duration | undefined, earlierApprovals = true): Promise<boolean> {
    if (!earlierApprovals) this.approved.delete(pod);
    this.waitingAt = pod;
    try {
      const approved = () => this.isApproved(pod);
      const released = timeout === undefined ? (await condition(approved), true) : await condition(approved, timeout);
      if (released) this.passed.add(pod);
      return released;
    } finally {
      this.waitingAt = undefined;
    }
  }
}

/** The signal's input: nothing, or `{ "pod": "<pod>" }`; anything else is what the refusal says. */
function readApproval(input: unknown): Approval | string {
  if (input === undefined || input === null) return {};
  if (Object.prototype.toString.call(input) === '[object Object]') {
    const { pod, ...others } = input as Record<string, unknown>;
    if (Object.keys(others).length === 0) {
      if (pod === undefined || pod === null) return {};
      if (typeof pod === 'string' && isPodName(pod)) return { pod };
    }
  }
  let shown: string;
  try {
    shown = quote(JSON.stringify(input) ?? typeof input);
  } catch {
    shown = typeof input;
  }
  return `expected no input or {"pod":"core"} naming a pod, got ${shown}`;
}

import type { Duration } from '@temporalio/common';
import { condition } from '@temporalio/workflow';
import { parseApproval, type Approval, type ApprovalRecord } from '../core/operator-actions';
import type { PodName } from '../core/platform';

/**
 * The upgrade's approval gates. An approval releases the gate the upgrade waits at when it arrives, and only that one:
 * one naming another gate (passed, approved already, not reached yet) is refused, and so is one without a name that
 * arrives while no gate waits: it is never kept for a later gate, so two operators approving at once cannot skip one.
 * Upgrades started before (`open` with `onlyTheGateWaiting` false) keep the rules they started with: an approval sent
 * before its gate was kept for it, and one without a name went to the next gate. A refused approval goes through
 * `refuse`, which the workflow records in the progress's notes for the operator to see.
 */
export class ApprovalGates {
  /** Unknown until the request is parsed: approvals that arrive before are kept and sorted out then. */
  private gates?: readonly PodName[];
  private readonly early: unknown[] = [];
  private readonly approved = new Set<PodName>();
  private readonly passed = new Set<PodName>();
  private waitingAt?: PodName;
  private onlyTheGateWaiting = false;
  /** `records` gets each gate's approval, in the order they were taken: who, why, when (the progress shows them). */
  constructor(
    private readonly refuse: (note: string) => void,
    private readonly records: ApprovalRecord[] = [],
  ) {}

  /** The gates of the parsed request, in the order the upgrade reaches them. */
  open(gates: readonly PodName[], onlyTheGateWaiting: boolean): void {
    this.gates = gates;
    this.onlyTheGateWaiting = onlyTheGateWaiting;
    for (const input of this.early.splice(0)) this.receive(input);
  }

  /** One `approve` signal's input, as any client sent it. */
  receive(input: unknown): void {
    if (!this.gates) {
      this.early.push(input);
      return;
    }
    const approval = parseApproval(input);
    if (typeof approval === 'string') return this.refuse(`Approval refused: ${approval}`);
    if (this.onlyTheGateWaiting) return this.releaseTheGateWaiting(approval);
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
    this.approve(pod, approval);
  }

  /** Workflow time: replayed as it was. */
  private approve(pod: PodName, { by, reason }: Approval): void {
    this.approved.add(pod);
    this.records.push({ pod, ...(by && { by }), ...(reason && { reason }), at: new Date().toISOString() });
  }

  /** The gate waited at, if `pod` names it or nothing: any other approval would release a gate nobody saw waiting. */
  private releaseTheGateWaiting(approval: Approval): void {
    const { pod } = approval;
    const waiting = this.waitingAt && !this.approved.has(this.waitingAt) ? this.waitingAt : undefined;
    if (waiting && (pod === undefined || pod === waiting)) return this.approve(waiting, approval);
    const now = waiting ? `the upgrade waits at the gate before \`${waiting}\`` : 'no gate waits for an approval now';
    if (pod === undefined) {
      return this.refuse(`Approval refused: ${now}; an approval is never kept for a later gate`);
    }
    const gates = this.gates ?? [];
    const why = !gates.includes(pod)
      ? `the upgrade has no gate before it (gates: ${gates.map((gate) => `\`${gate}\``).join(', ') || 'none'})`
      : this.approved.has(pod) || this.passed.has(pod)
        ? 'its gate is already approved'
        : `its gate is not reached yet, and ${now}`;
    this.refuse(`Approval for \`${pod}\` refused: ${why}; approve a gate while the upgrade waits at it`);
  }

  isApproved(pod: PodName): boolean {
    return this.approved.has(pod);
  }

  /**
   * Waits at `pod`'s gate until it is approved; false once `timeout` passed without. With `earlierApprovals` false,
   * only an approval sent while waiting counts: the behaviour of upgrades started before approvals were remembered.
   */
  async await(pod: PodName, timeout: Duration | undefined, earlierApprovals = true): Promise<boolean> {
    if (!earlierApprovals && this.approved.delete(pod)) {
      const early = this.records.findIndex((record) => record.pod === pod);
      if (early >= 0) this.records.splice(early, 1);
    }
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

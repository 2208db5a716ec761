import type { ApprovalRecord, StepRecord, UpgradePhase, UpgradeProgress } from '../core/upgrade';
import type { StepObserver } from './telemetry';

/**
 * What the `progress` query answers: every planned step with its status and timings, so an operator sees
 * what runs, what finished and what comes next. Workflow time only (`Date` is replayed deterministically).
 */
export class ProgressLog {
  phase: UpgradePhase = 'preflight';
  fromVersion?: string;
  /** With a moving `fromVersion` (`latest`): the runtime image's digest when the upgrade began. */
  fromDigest?: string;
  /** The first step that failed: with nested steps, the innermost, where the failure happened. */
  firstFailure?: StepRecord;
  /** What an operator should know that is no step, in order. */
  readonly notes: string[] = [];
  /** Each approval gate released, by whom and why, in order (`ApprovalGates` adds them). */
  readonly approvals: ApprovalRecord[] = [];
  private readonly steps: StepRecord[] = [];
  private readonly rollbackSteps: StepRecord[] = [];
  /** Called when a step starts or ends: the workflow shows it in the Temporal UI. */
  onStepChange?: () => void;

  /** `observer` sees each step start and end (the worker's log and metrics). */
  constructor(
    readonly toVersion: string,
    private readonly observer?: StepObserver,
  ) {}

  /** Adds steps not yet known, in order, as pending. */
  plan(steps: { id: string; title: string }[], rollback = false): void {
    const list = rollback ? this.rollbackSteps : this.steps;
    for (const step of steps) {
      if (!list.some((known) => known.id === step.id)) list.push({ ...step, status: 'pending' });
    }
  }

  /** Runs one step, recording its start, end, outcome and a one-line detail. */
  async run<T>(id: string, work: () => Promise<T>, describe?: (result: T) => string | undefined): Promise<T> {
    const step = this.find(id);
    step.status = 'running';
    step.startedAt = new Date().toISOString();
    delete step.endedAt;
    this.observer?.started(step);
    this.onStepChange?.();
    try {
      const result = await work();
      this.end(step, 'succeeded', describe?.(result));
      return result;
    } catch (error) {
      this.end(step, 'failed', errorMessage(error));
      this.firstFailure ??= step;
      throw error;
    }
  }

  skip(id: string, detail: string): void {
    this.end(this.find(id), 'skipped', detail);
  }

  /** Marks the upgrade's steps that had changed something as undone; a failed step stays failed: it says why. */
  markRolledBack(ids: string[]): void {
    for (const step of this.steps) {
      if (ids.includes(step.id) && step.status === 'succeeded') step.status = 'rolled-back';
    }
  }

  current(): StepRecord | undefined {
    return [...this.rollbackSteps, ...this.steps].find((step) => step.status === 'running');
  }

  snapshot(): UpgradeProgress {
    return {
      phase: this.phase,
      fromVersion: this.fromVersion,
      ...(this.fromDigest && { fromDigest: this.fromDigest }),
      toVersion: this.toVersion,
      currentStep: this.current()?.id,
      steps: this.steps.map((step) => ({ ...step })),
      rollback: this.rollbackSteps.map((step) => ({ ...step })),
      ...(this.notes.length > 0 && { notes: [...this.notes] }),
      ...(this.approvals.length > 0 && { approvals: this.approvals.map((approval) => ({ ...approval })) }),
    };
  }

  private find(id: string): StepRecord {
    const step = [...this.steps, ...this.rollbackSteps].find((candidate) => candidate.id === id);
    if (!step) throw new Error(`No step \`${id}\` was planned`);
    return step;
  }

  private end(step: StepRecord, status: StepRecord['status'], detail?: string): void {
    const endedAt = new Date();
    step.status = status;
    step.endedAt = endedAt.toISOString();
    if (step.startedAt) step.durationMs = endedAt.getTime() - Date.parse(step.startedAt);
    if (detail !== undefined) step.detail = detail;
    this.observer?.ended(step);
    this.onStepChange?.();
  }
}

/** The innermost message of a failure chain: an activity's own error, not "Activity task failed". */
export function errorMessage(error: unknown): string {
  let current: unknown = error;
  while (current instanceof Error && current.cause instanceof Error) current = current.cause;
  return current instanceof Error ? current.message : String(current);
}

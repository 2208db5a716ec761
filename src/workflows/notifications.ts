import { CancellationScope, patched, workflowInfo } from '@temporalio/workflow';
import { COMPONENT_WORKFLOW_TYPE, parseComponentRequest } from '../core/components';
import { upgradeNotification, type UpgradeEvent, type UpgradeEventFacts } from '../core/notifications';
import type { PodName } from '../core/platform';
import type { UpgradePhase } from '../core/upgrade';
import { asksDryRun, parseUpgradeRequest } from '../core/upgrade-request';
import { deliver } from './activity-options';
import { Patch } from './patches';
import { errorMessage } from './progress';
import type { UpgradeRun } from './upgrade-steps';

/** The phases a webhook is told of; `upgrading` only the first time, past pre-flight. Dry runs tell nobody. */
const EVENT_OF_PHASE: Partial<Record<UpgradePhase, UpgradeEvent>> = {
  upgrading: 'started',
  'waiting-for-approval': 'waiting-for-approval',
  completed: 'completed',
  'rolled-back': 'rolled-back',
  'rollback-failed': 'rollback-failed',
  refused: 'refused',
};

/**
 * An upgrade's webhook notifications. Each is an activity the upgrade does not wait for: its steps go on while it is
 * delivered. They are chained, so a chat shows them in the order they happened, and a delivery that fails is a note
 * of the progress, never the upgrade's failure. The upgrade waits for the last ones before it ends (`settleAfter`):
 * a workflow that ends abandons its activities. That wait is bounded by the delivery's own attempts (NOTIFY).
 */
export class UpgradeNotifier {
  private started = false;
  private delivered: Promise<void> = Promise.resolve();

  constructor(private readonly run: UpgradeRun) {}

  /** Called as the upgrade enters `phase`: tells the webhook if the phase is an event. */
  phaseEntered(phase: UpgradePhase): void {
    let event = EVENT_OF_PHASE[phase];
    if (event === 'started' && this.started) event = undefined;
    // A request that does not parse is refused at once, to whoever started it by hand: it schedules nothing.
    if (event === 'refused' && !requestParses(this.run.input)) event = undefined;
    // A dry run answers whoever asked it, and its ID names no environment's webhook (`aegis-plan-<env>-<ms>`).
    if (event && asksDryRun(this.run.input) && patched(Patch.dryRunsNotifyNobody)) event = undefined;
    // Upgrades started before notifications replay without them (docs/versioning.md).
    if (!event || !patched(Patch.notifications)) return;
    this.started ||= event === 'started';
    const { approvals, ...report } = this.run.fullReport();
    // Upgrades started before approvals were recorded sent none: asked only when there is one to tell.
    const told = approvals && approvals.length > 0 && patched(Patch.approvalsInNotifications);
    const notification = upgradeNotification({
      event,
      workflowId: this.run.workflowId,
      at: new Date().toISOString(),
      report: told ? { ...report, approvals } : report,
      ...(event === 'waiting-for-approval' && { approval: this.nextApproval() }),
    });
    const { notes } = this.run.progress;
    this.delivered = this.delivered.then(() =>
      // A cancelled upgrade's rollback is told of all the same.
      CancellationScope.nonCancellable(() => deliver.notify(notification)).then(
        () => undefined,
        (error: unknown) => void notes.push(`The ${event} notification was not delivered: ${errorMessage(error)}`),
      ),
    );
  }

  /** The upgrade's answer, once the notifications already started have been delivered or have given up. */
  async settleAfter<T>(upgrade: Promise<T>): Promise<T> {
    try {
      return await upgrade;
    } finally {
      await this.delivered;
    }
  }

  /** The gate the upgrade is about to wait at: the first approval step not yet run. */
  private nextApproval(): UpgradeEventFacts['approval'] {
    const step = this.run.progress.snapshot().steps.find((s) => s.id.startsWith('approve:') && s.status === 'pending');
    // A request with approval gates always has their timeout (the default when it names none).
    const timeout = parseUpgradeRequest(this.run.input).approvalTimeout;
    return step && timeout ? { pod: step.id.slice('approve:'.length) as PodName, timeout } : undefined;
  }
}

/** By the parser of the workflow's own request: a component upgrade's is not an AEGIS upgrade's. */
function requestParses(input: unknown): boolean {
  const parse = workflowInfo().workflowType === COMPONENT_WORKFLOW_TYPE ? parseComponentRequest : parseUpgradeRequest;
  try {
    parse(input);
    return true;
  } catch {
    return false;
  }
}

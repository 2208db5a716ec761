/**
 * Workflow-side half of the replay test's input check (test/workflows/replay.test.ts): bundled with the workflows, it
 * hands every activity, child upgrade and continue-as-new the code asks for, with its input, to the `scheduling` sink.
 */
import {
  CancellationScope,
  proxySinks,
  workflowInfo,
  type Sinks,
  type WorkflowInterceptorsFactory,
} from '@temporalio/workflow';

/** One command that carries an input Temporal's replay does not compare: what ran where, in which order. */
export interface ScheduledCommand {
  command: 'activity' | 'child' | 'continue-as-new';
  /** The activity's or workflow's type. */
  type: string;
  /** A child's workflow ID (the environment it upgrades). */
  workflowId?: string;
  input: unknown[];
  /** The event ID of the start of the workflow task that issued it: the same commands issued earlier differ. */
  task: number;
}

export interface SchedulingSinks extends Sinks {
  scheduling: { scheduled(command: ScheduledCommand): void };
}

const { scheduling } = proxySinks<SchedulingSinks>();

/** As the SDK does: a call in a cancelled scope is refused at once and issues no command, so none is in the history. */
const issued = () => !CancellationScope.current().consideredCancelled;
/** On replay, the history's length is the event that started the workflow task being replayed. */
const task = () => workflowInfo().historyLength;

export const interceptors: WorkflowInterceptorsFactory = () => ({
  outbound: [
    {
      scheduleActivity(input, next) {
        if (issued()) {
          scheduling.scheduled({ command: 'activity', type: input.activityType, input: input.args, task: task() });
        }
        return next(input);
      },
      startChildWorkflowExecution(input, next) {
        const { workflowId, args } = input.options;
        if (issued()) {
          scheduling.scheduled({ command: 'child', type: input.workflowType, workflowId, input: args, task: task() });
        }
        return next(input);
      },
      continueAsNew(input, next) {
        scheduling.scheduled({
          command: 'continue-as-new',
          type: input.options.workflowType,
          input: input.args,
          task: task(),
        });
        return next(input);
      },
    },
  ],
});

import type { Info } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { keepHeartbeating } from '../../src/worker/heartbeats';

/**
 * Runs activities as a worker would (its heartbeats included), without printing the failures the tests expect; `info`
 * as the worker's: `heartbeatTimeoutMs` as the activity's options set it.
 */
export function activityEnvironment(info: Partial<Info> = {}): MockActivityEnvironment {
  return new MockActivityEnvironment(info, {
    logger: new DefaultLogger('ERROR', () => undefined),
    interceptors: [keepHeartbeating],
  });
}

import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';
import { WRONG_ENVIRONMENT } from '../core/errors';

/** The worker refused the activity as another environment's (a misrouted task): it ran nothing, took no lock. */
export function refusedAsWrongEnvironment(error: unknown): boolean {
  return (
    error instanceof ActivityFailure &&
    error.cause instanceof ApplicationFailure &&
    error.cause.type === WRONG_ENVIRONMENT
  );
}

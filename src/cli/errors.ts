import { ServiceError, WorkflowFailedError, isGrpcServiceError } from '@temporalio/client';
import { NamespaceNotFoundError, WorkflowNotFoundError } from '@temporalio/common';
import type { UpgradeReport } from '../core/upgrade';

export { TemporalUnreachable } from '../config';

/** What `aegis-upgrade` exits with, whatever the command; `--help` and docs/cli.md list them. */
export const ExitCode = {
  /** The command did what it was asked; an upgrade it waited for completed. */
  Done: 0,
  /** The upgrade failed or was rolled back, or the command failed on the server's side. */
  Failed: 1,
  /** Bad usage: unknown command or option, a bad value, a request the server refused. */
  Usage: 2,
  /** The Temporal server could not be reached. */
  Unreachable: 3,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** The operator asked for something that cannot be done as asked: the message says what to do instead. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The command could not do what was asked, not by the operator's fault (the server failed it, a wait ran out): exit 1, one line. */
export class CommandFailed extends Error {
  override readonly name = 'CommandFailed';
}

/** gRPC's status codes (grpc.io/docs/guides/status-codes) the CLI tells apart. */
const GrpcStatus = {
  CANCELLED: 1,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  FAILED_PRECONDITION: 9,
  UNAVAILABLE: 14,
} as const;

/** Codes by which the server refuses a request as asked: the operator's to change (exit 2). */
const REFUSALS: readonly number[] = [
  GrpcStatus.INVALID_ARGUMENT,
  GrpcStatus.NOT_FOUND,
  GrpcStatus.ALREADY_EXISTS,
  GrpcStatus.FAILED_PRECONDITION,
];

function grpcCode(error: unknown): number | undefined {
  const cause = error instanceof ServiceError ? error.cause : error;
  return isGrpcServiceError(cause) ? cause.code : undefined;
}

/** gRPC's UNAVAILABLE: the server did not answer, as opposed to answering with an error. */
export function isUnavailable(error: unknown): boolean {
  return grpcCode(error) === GrpcStatus.UNAVAILABLE;
}

/**
 * A query no worker answered: none took it in time (DEADLINE_EXCEEDED, or CANCELLED when the server's copy of our
 * deadline ends first: it resets the stream, which gRPC reports as "Call cancelled"), or the server knows none polls
 * now (FAILED_PRECONDITION, "no poller seen for task queue recently").
 */
export function isUnanswered(error: unknown): boolean {
  const code = grpcCode(error);
  return (
    code === GrpcStatus.DEADLINE_EXCEEDED || code === GrpcStatus.CANCELLED || code === GrpcStatus.FAILED_PRECONDITION
  );
}

/** The SDK's message, and the server's own words after it when it gave some (`Failed to create schedule: …`). */
function serverMessage(error: Error): string {
  const cause = error instanceof ServiceError ? error.cause : error;
  const details = isGrpcServiceError(cause) ? cause.details : undefined;
  const text = details && !error.message.includes(details) ? `${error.message}: ${details}` : error.message;
  return text.split('\n', 1)[0] ?? '';
}

/**
 * A Temporal error as the operator reads it, one line: a request refused is a UsageError (exit 2), any other answer
 * of the server a CommandFailed (exit 1). What did not come from the server (a bug) is left as it is, with its stack.
 */
export function fromServer(error: unknown): unknown {
  if (error instanceof WorkflowNotFoundError || error instanceof NamespaceNotFoundError) {
    return new UsageError(serverMessage(error), { cause: error });
  }
  if (error instanceof WorkflowFailedError) return new CommandFailed(serverMessage(error), { cause: error });
  const code = grpcCode(error);
  if (code === undefined || !(error instanceof Error)) return error;
  const Kind = REFUSALS.includes(code) ? UsageError : CommandFailed;
  return new Kind(serverMessage(error), { cause: error });
}

export function reportExitCode(report: UpgradeReport): ExitCode {
  return report.phase === 'completed' || report.phase === 'planned' ? ExitCode.Done : ExitCode.Failed;
}

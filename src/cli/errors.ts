import { ServiceError } from '@temporalio/client';
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

/** gRPC's UNAVAILABLE: the server did not answer, as opposed to answering with an error. */
const GRPC_UNAVAILABLE = 14;

export function isUnavailable(error: unknown): boolean {
  return error instanceof ServiceError && (error.cause as { code?: unknown } | undefined)?.code === GRPC_UNAVAILABLE;
}

export function reportExitCode(report: UpgradeReport): ExitCode {
  return report.phase === 'completed' || report.phase === 'planned' ? ExitCode.Done : ExitCode.Failed;
}

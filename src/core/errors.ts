/**
 * What can go wrong in an activity, as named errors. Temporal reports each by its `name`; the ones a retry
 * cannot fix are listed once, in NON_RETRYABLE_ERRORS.
 */
import { quote } from './upgrade-request';

/** A command exited non-zero. Its output is cut to the last lines and carries no secret. */
export class CommandFailed extends Error {
  override readonly name = 'CommandFailed';
  constructor(
    readonly command: string,
    readonly exitCode: number | undefined,
    readonly outputTail: string,
    options?: { cause?: unknown },
  ) {
    super(
      `\`${command}\` failed${exitCode === undefined ? '' : ` with exit code ${exitCode}`}: ${outputTail}`,
      options,
    );
  }
}

/** The request or the platform fails a pre-flight check; nothing was changed. */
export class PreflightFailed extends Error {
  override readonly name = 'PreflightFailed';
}

/** Another upgrade holds the deployment's lock. */
export class UpgradeLocked extends Error {
  override readonly name = 'UpgradeLocked';
}

/** An unlock found another lock than the one whose owner it checked: it leaves it alone. */
export class UpgradeLockChanged extends Error {
  override readonly name = 'UpgradeLockChanged';
}

/** The runtime logged a failed migration, or never said it had migrated. */
export class MigrationFailed extends Error {
  override readonly name = 'MigrationFailed';
  constructor(
    message: string,
    readonly evidence?: string,
  ) {
    super(evidence ? `${message}: ${evidence}` : message);
  }
}

/** A redeployed pod did not become ready in time. */
export class PodNotReady extends Error {
  override readonly name = 'PodNotReady';
}

/** A daemon of the host (the FUSE daemon) did not run steadily after its restart, as a pod that is not ready. */
export class DaemonNotRunning extends Error {
  override readonly name = 'DaemonNotRunning';
}

/** `make validate` or the runtime's readiness says the platform is not healthy. */
export class ValidationFailed extends Error {
  override readonly name = 'ValidationFailed';
}

/** A backup did not verify (empty, unreadable by `pg_restore --list`, or checksum mismatch). */
export class BackupInvalid extends Error {
  override readonly name = 'BackupInvalid';
}

/** A restore found the databases in a state it did not leave them in: a person must look before anything is dropped. */
export class RestoreBlocked extends Error {
  override readonly name = 'RestoreBlocked';
}

/**
 * An input an activity will not act on: one that would reach a shell-sourced file or leave its directory. Any
 * workflow on the task queue can call an activity, so each checks what it writes or opens.
 */
export class InvalidActivityInput extends Error {
  override readonly name = 'InvalidActivityInput';
  constructor(
    readonly field: string,
    expected: string,
    got: string,
  ) {
    super(`Expected \`${field}\` to be ${expected}, got ${quote(got)}`);
  }
}

/**
 * The worker refused an activity meant for another environment's deployment (environment-guard.ts): it ran nothing.
 * Non-retryable by the failure's own flag, not by a retry policy: the compensations retry everything else for ever.
 */
export const WRONG_ENVIRONMENT = 'WrongEnvironment';

export const NON_RETRYABLE_ERRORS = [
  'InvalidActivityInput',
  'PreflightFailed',
  'UpgradeLocked',
  'UpgradeLockChanged',
  'MigrationFailed',
  'PodNotReady',
  'DaemonNotRunning',
  'ValidationFailed',
] as const;

/**
 * What a compensation never retries: its input is wrong, or the backup it restores from is, and no amount of waiting
 * changes that. Everything else (a registry or database outage, a pod slow to start, a dead worker) may pass.
 */
export const COMPENSATION_NON_RETRYABLE_ERRORS = ['InvalidActivityInput', 'BackupInvalid'] as const;

/** A webhook did not answer, or answered with an error a retry may fix (5xx, 408, 429). */
export class WebhookUndelivered extends Error {
  override readonly name = 'WebhookUndelivered';
}

/** A webhook refused a notification (any other 4xx): its URL or token is wrong, and a retry will not fix that. */
export class WebhookRefused extends Error {
  override readonly name = 'WebhookRefused';
}

/** What a notification's delivery never retries. */
export const NOTIFY_NON_RETRYABLE_ERRORS = ['WebhookRefused'] as const;

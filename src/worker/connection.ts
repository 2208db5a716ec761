import type { Logger } from '@temporalio/common';
import { NativeConnection, TransportError } from '@temporalio/worker';
import { TemporalUnreachable, describeConnection, type TemporalConfig } from '../config';

/** The waits between attempts: 1 s, doubled after each, and at most 10 s apart once the server is long down. */
export const CONNECT_RETRY = { firstWaitMs: 1_000, longestWaitMs: 10_000 } as const;

function waitAfterAttempt(attempt: number): number {
  return Math.min(CONNECT_RETRY.firstWaitMs * 2 ** (attempt - 1), CONNECT_RETRY.longestWaitMs);
}

/**
 * The worker's connection, tried again for as long as the server cannot be reached: after a reboot the worker may
 * start before its Temporal server, and a worker that exits gives up for good at systemd's start limit. Each failed
 * attempt is one line. An error that is not about reaching the server (a server that answers, but refuses) is thrown.
 */
export async function connectWithRetry(
  temporal: TemporalConfig,
  logger: Logger,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
): Promise<NativeConnection> {
  const server = describeConnection(temporal);
  for (let attempt = 1; ; attempt++) {
    try {
      const connection = await NativeConnection.connect(temporal.connection);
      if (attempt > 1) logger.info(`aegis-upgrade worker: connected to ${server} at attempt ${attempt}`);
      return connection;
    } catch (error) {
      const unreachable = new TemporalUnreachable(server, error);
      if (!(error instanceof TransportError)) throw unreachable;
      const waitMs = waitAfterAttempt(attempt);
      logger.warn(
        `aegis-upgrade worker: ${unreachable.message}; attempt ${attempt}, trying again in ${waitMs / 1000} s`,
      );
      await sleep(waitMs);
    }
  }
}

import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { HEARTBEAT_INTERVAL_MS, lastDetail } from '../host/heartbeat';

/**
 * Every activity whose options set a heartbeat timeout heartbeats while it runs, whatever its code does: a dead worker
 * is noticed within that timeout, and a live one never times out in a long command (a container that takes its whole
 * stop grace time). Each heartbeat repeats what the activity said last (heartbeatWhile, pause).
 */
export const keepHeartbeating: ActivityInterceptorsFactory = (context) => ({
  inbound: {
    async execute(input, next) {
      if (!context.info.heartbeatTimeoutMs) return next(input);
      context.heartbeat(lastDetail(context));
      const timer = setInterval(() => context.heartbeat(lastDetail(context)), HEARTBEAT_INTERVAL_MS);
      try {
        return await next(input);
      } finally {
        clearInterval(timer);
      }
    },
  },
});

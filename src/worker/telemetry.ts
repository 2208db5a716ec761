import type { Logger } from '@temporalio/common';
import { Runtime, type WorkerInterceptors } from '@temporalio/worker';
import type { TelemetryConfig } from '../config/telemetry';
import { createLogger } from './log-format';
import { STEP_DURATION_BUCKETS, UpgradeMetric } from '../core/metrics';

/**
 * Sets up the process's Temporal runtime once, before any connection: every log line (the SDK's, the workflows' and
 * the activities') through one logger, and the Prometheus endpoint when configured. Returns the logger.
 */
export function installTelemetry(config: TelemetryConfig, write?: (line: string) => void): Logger {
  const logger = createLogger(config, write);
  Runtime.install({
    logger,
    telemetryOptions: {
      // The SDK core's own lines go through the same logger, so every line has one format.
      logging: { forward: {}, filter: { core: config.logLevel === 'ERROR' ? 'ERROR' : 'WARN', other: 'ERROR' } },
      ...(config.metricsAddress !== undefined && {
        metrics: {
          prometheus: {
            bindAddress: config.metricsAddress,
            histogramBucketOverrides: { [UpgradeMetric.stepDuration]: STEP_DURATION_BUCKETS },
          },
        },
      }),
    },
  });
  return logger;
}

/** Every retry of an activity is logged as it starts, with the attempt it is. */
export const telemetryInterceptors: WorkerInterceptors = {
  activity: [
    (context) => ({
      inbound: {
        execute(input, next) {
          const { attempt, activityType } = context.info;
          if (attempt > 1) context.log.warn(`activity ${activityType} retried: attempt ${attempt}`);
          return next(input);
        },
      },
    }),
  ],
};

import type { Logger } from '@temporalio/common';
import type { MetricTags } from '@temporalio/common';
import { Runtime, type InjectedSinks, type WorkerInterceptors } from '@temporalio/worker';
import type { TelemetryConfig } from '../config/telemetry';
import { createLogger } from './log-format';
import {
  MetricLabel,
  STEP_DURATION_BUCKETS,
  UpgradeMetric,
  type MetricSample,
  type MetricSinks,
} from '../core/metrics';

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
            // The Prometheus conventions: counters end in `_total`, durations are seconds named so.
            countersTotalSuffix: true,
            unitSuffix: true,
            useSecondsForDurations: true,
            histogramBucketOverrides: { [UpgradeMetric.stepDuration.name]: STEP_DURATION_BUCKETS },
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

/**
 * Records what the workflows measure on the runtime's meter, with the labels the SDK puts on its own workflow metrics
 * (`namespace`, `task_queue`, `workflow_type`): the SDK's workflow meter would add them in camelCase.
 */
export function telemetrySinks(): InjectedSinks<MetricSinks> {
  const meter = Runtime.instance().metricMeter;
  return {
    aegisMetrics: {
      record: {
        fn({ namespace, taskQueue, workflowType }, sample: MetricSample) {
          const labels: MetricTags = {
            ...sample.labels,
            [MetricLabel.namespace]: namespace,
            [MetricLabel.taskQueue]: taskQueue,
            [MetricLabel.workflowType]: workflowType,
          };
          const { kind, name, unit, description } = sample.metric;
          if (kind === 'counter') meter.createCounter(name, unit, description).add(sample.value, labels);
          else if (kind === 'gauge') meter.createGauge(name, 'int', unit, description).set(sample.value, labels);
          else meter.createHistogram(name, 'float', unit, description).record(sample.value, labels);
        },
        callDuringReplay: false,
      },
    },
  };
}

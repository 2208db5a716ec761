import type { Sinks } from '@temporalio/workflow';
import type { UpgradePhase } from './upgrade';

/** A metric as a workflow records it: the worker's Prometheus options add the suffixes of its name on the page. */
export interface MetricDefinition {
  kind: 'counter' | 'gauge' | 'histogram';
  /** Without the suffixes: `exportedName` is the name on the page. */
  name: string;
  /** A histogram's unit, its name's suffix on the page; none for the others. */
  unit: '' | 'seconds';
  description: string;
}

/**
 * The upgrade's own metrics, beside the SDK's `temporal_*` ones on the same endpoint. Defined once here: the workflow
 * records them, the worker sets their buckets, the alerts of deploy/aegis-upgrade.alerts.yml, the queries of
 * docs/observability.md and the tests read them (by `exportedName`).
 */
export const UpgradeMetric = {
  /** Upgrades started: their pre-flight passed, by `environment` (a dry run is none, a refused pre-flight neither). */
  started: {
    kind: 'counter',
    name: 'aegis_upgrades_started',
    unit: '',
    description: 'Upgrades started: their pre-flight passed',
  },
  /** Upgrades ended, by `environment` and `outcome`: completed, rolled-back or rollback-failed. */
  ended: { kind: 'counter', name: 'aegis_upgrades_ended', unit: '', description: 'Upgrades ended, by outcome' },
  /** Pre-flights refused, by `environment`: the upgrade changed nothing and is not counted started. */
  preflightRefused: {
    kind: 'counter',
    name: 'aegis_upgrade_preflights_refused',
    unit: '',
    description: 'Upgrades refused by their pre-flight',
  },
  /** 1 for the `phase` the upgrade of `environment` is in, 0 for the other running phases and once it has ended. */
  inProgress: {
    kind: 'gauge',
    name: 'aegis_upgrade_in_progress',
    unit: '',
    description: 'The phase the upgrade of the environment is in: 1 for it, 0 for the others',
  },
  /** How long each step took, by `environment`, `step` (`redeploy:core`, `rollback:validate`) and `status`. */
  stepDuration: {
    kind: 'histogram',
    name: 'aegis_upgrade_step_duration',
    unit: 'seconds',
    description: 'How long each upgrade step took',
  },
  /** When the last upgrade of `environment` completed, in Unix seconds: `time() - it` is the time since. */
  lastSuccess: {
    kind: 'gauge',
    name: 'aegis_upgrade_last_success_timestamp_seconds',
    unit: '',
    description: 'When the last upgrade of the environment completed, in Unix seconds',
  },
} as const satisfies Record<string, MetricDefinition>;

/** The metric's name on the `/metrics` page: counters end in `_total`, a histogram's name in its unit. */
export function exportedName({ kind, name, unit }: MetricDefinition): string {
  if (kind === 'counter') return `${name}_total`;
  return unit === '' ? name : `${name}_${unit}`;
}

/** The SDK's metrics the alerts read (the worker's Prometheus options name them: `_total`, seconds). */
export const SdkMetric = {
  /** Pollers of a `task_queue`, by `poller_type`: absent when no worker runs. */
  pollers: 'temporal_num_pollers',
} as const;

/** The label names of our metrics, snake_case like the SDK's own. */
export const MetricLabel = {
  environment: 'environment',
  outcome: 'outcome',
  phase: 'phase',
  step: 'step',
  status: 'status',
  /** Added by the worker to every metric a workflow records, as the SDK names them on its own. */
  namespace: 'namespace',
  taskQueue: 'task_queue',
  workflowType: 'workflow_type',
} as const;

/** The phases an upgrade is in while it runs: `aegis_upgrade_in_progress` has one series for each. */
export const RUNNING_PHASES = [
  'preflight',
  'upgrading',
  'waiting-for-approval',
  'rolling-back',
] as const satisfies readonly UpgradePhase[];

/** Steps last from a second (set the tag) to an hour or two (dump a large database): buckets in seconds. */
export const STEP_DURATION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200];

/** What a workflow records, through the worker's `aegisMetrics` sink: the worker adds the workflow's own labels. */
export interface MetricSample {
  metric: MetricDefinition;
  value: number;
  labels: Record<string, string>;
}

/** The sink the workflows record their metrics through (replay-safe: nothing in the history, nothing on replay). */
export interface MetricSinks extends Sinks {
  aegisMetrics: { record(sample: MetricSample): void };
}

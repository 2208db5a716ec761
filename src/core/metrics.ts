/**
 * The upgrade's own metrics, beside the SDK's `temporal_*` ones on the same endpoint. Named once here: the workflow
 * records them, the worker sets their buckets, the queries of docs/observability.md and the tests read them.
 */
export const UpgradeMetric = {
  /** Upgrades started, by `environment` (a dry run is none). */
  started: 'aegis_upgrades_started_total',
  /** Upgrades ended, by `environment` and `outcome`: completed, rolled-back, rollback-failed or refused. */
  ended: 'aegis_upgrades_ended_total',
  /** How long each step took, by `environment`, `step` (`redeploy:core`, `rollback:validate`) and `status`. */
  stepDuration: 'aegis_upgrade_step_duration_seconds',
  /** When the last upgrade of `environment` completed, in Unix seconds: `time() - it` is the time since. */
  lastSuccess: 'aegis_upgrade_last_success_timestamp_seconds',
} as const;

/** Steps last from a second (set the tag) to an hour or two (dump a large database): buckets in seconds. */
export const STEP_DURATION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200];

/**
 * Every `patched()` of the workflow, with the change it guards (docs/versioning.md). Upgrades started before a change
 * replay on the code under `!patched(id)`; new ones record the patch and take the new path. Removed only when no
 * upgrade started before it can still be running (see the doc), and never reused.
 */
export const Patch = {
  /** Approval gates wait DEFAULT_APPROVAL_TIMEOUT when the request sets none (they waited for ever). */
  defaultApprovalTimeout: 'default-approval-timeout',
  /** An `approve` sent before its gate is kept for it (only one sent while waiting counted). */
  approvalsPerGate: 'approvals-per-gate',
  /** A target equal to the running version completes after pre-flight (it re-backed-up and redeployed all). */
  alreadyAtVersion: 'already-at-version',
  /** Webhooks are told when an upgrade starts, waits for approval and ends (`notify`, workflows/notifications.ts). */
  notifications: 'notifications',
  /** A pre-flight refused as another environment's took no lock: none is released (it reported one left behind). */
  wrongEnvironmentTookNoLock: 'wrong-environment-took-no-lock',
  /** The phase is kept in the search attributes AegisEnvironment/FromVersion/ToVersion/Phase, `rolling-back` too. */
  searchAttributes: 'search-attributes',
  /** `unlockDeployment` starts again the writers a dead upgrade stopped and recorded (they stayed stopped). */
  unlockResumesWriters: 'unlock-resumes-writers',
  /** An approval releases only the gate waited at when it arrives (one was kept for a later gate, and skipped it). */
  approvalsReleaseTheGateWaiting: 'approvals-release-the-gate-waiting',
  /** A dry run notifies nobody, refused too (a refused one told the default webhook of `aegis-plan-<env>-<ms>`). */
  dryRunsNotifyNobody: 'dry-runs-notify-nobody',
  /** A cancellation waits for a database-changing dump or restore to end before the rollback (they were abandoned). */
  waitForDatabaseChanges: 'wait-for-database-changes',
  /** A fleet's canary wave has its own failure budget, `canaryFailureBudget` (it had the waves' `failureBudget`). */
  canaryFailureBudget: 'canary-failure-budget',
  /** roll-back-wave keeps the data unless `restoreDatabaseOnWaveRollback` (it restored every migrated environment). */
  waveRollbackKeepsData: 'wave-rollback-keeps-data',
  /** A fleet's upgrade signals the fleet when a worker takes it (`upgradeStarted`). */
  tellFleetStarted: 'tell-fleet-started',
  /** A fleet gives each upgrade `upgradeStartDeadline` to start, and an abort cancels those not yet started. */
  fleetUpgradeStartDeadline: 'fleet-upgrade-start-deadline',
  /** A rollback restores the database beside putting the previous tag back (`besidePrevious`; they ran in turn). */
  rollbackStepsSideBySide: 'rollback-steps-side-by-side',
  /** A webhook message names who released each gate, and why (`approvals`); it named nobody. */
  approvalsInNotifications: 'approvals-in-notifications',
  /** The host's bin/aegis and FUSE daemon follow the runtime, kept first and put back by a rollback (left as they were). */
  hostCli: 'host-cli',
} as const;

/**
 * The one place that names the upgrade's public surface: workflow type, task queue, messages, and the shapes
 * of its input and report. The worker, the CLI and the tests import these; none repeats a string.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { AbortRequest, Approval, ApprovalRecord } from './operator-actions';
import type { PodName } from './platform';

export const UPGRADE_WORKFLOW_TYPE = 'upgradePlatform';

/**
 * The `default` environment's task queue; the others' derive from it (`taskQueueFor`).
 * @default 'aegis-upgrades' (overridden by `AEGIS_TASK_QUEUE`)
 */
export const DEFAULT_TASK_QUEUE = 'aegis-upgrades';

/** Failure types an upgrade ends with; the CLI and the tests match on them. */
export const UpgradeFailureType = {
  /** Request refused or platform not ready: nothing was changed. */
  PreflightFailed: 'PreflightFailed',
  /** A step failed (or the upgrade was cancelled) and everything was put back. */
  UpgradeRolledBack: 'UpgradeRolledBack',
  /** Putting things back failed too: the details say what is left and how to finish by hand. */
  RollbackFailed: 'RollbackFailed',
} as const;

// The request's shape is declared beside its parser: a new option is written there and in the CLI's flag table only.
export {
  DEFAULT_APPROVAL_TIMEOUT,
  type RestoreDatabasePolicy,
  type UpgradeRequest,
  type UpgradeStrategy,
} from './upgrade-request';

// What operators send (who, why) is declared beside its parser.
export type { AbortRequest, Approval, ApprovalRecord } from './operator-actions';
/** Workflow IDs name the environment: `aegis-upgrade-<env>`; a schedule appends its start time. */
const WORKFLOW_ID_PREFIX = 'aegis-upgrade-';

export function upgradeWorkflowId(environment: string): string {
  return `${WORKFLOW_ID_PREFIX}${environment}`;
}

export function environmentOf(workflowId: string): string {
  return workflowId.replace(WORKFLOW_ID_PREFIX, '').replace(/-\d{4}-\d{2}-\d{2}T[\d:.]+Z$/, '');
}

/** What a dry run reports: what the upgrade would change. */
export interface UpgradePlan {
  /** The pods the upgrade would redeploy, in order. */
  pods: PodName[];
  /** Pods of the profile the new tag leaves as they are: not redeployed. */
  unchangedPods?: PodName[];
  /** Per AEGIS container: what runs now → what would run. */
  images: { container: string; current: string; target: string }[];
  checks: string[];
  backupEstimateBytes: number;
  /** A rollback could have to restore the database: the runtime's pod is redeployed and restores are allowed. */
  restorePossible: boolean;
  /** How long each approval gate would wait, when there are gates. */
  approvalTimeout?: string;
}

export type StepStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'rolled-back';

export interface StepRecord {
  /** Stable identifier, e.g. `redeploy:core`. */
  id: string;
  title: string;
  status: StepStatus;
  startedAt?: string;
  endedAt?: string;
  durationMs?: number;
  /** One short line: what happened, or why it failed. */
  detail?: string;
}

export type UpgradePhase =
  | 'preflight'
  | 'upgrading'
  | 'waiting-for-approval'
  | 'rolling-back'
  | 'completed'
  | 'rolled-back'
  | 'rollback-failed'
  | 'refused'
  | 'planned';

export interface UpgradeProgress {
  phase: UpgradePhase;
  fromVersion?: string;
  /** With a moving `fromVersion` (`latest`): the digest of the runtime's image when the upgrade began. */
  fromDigest?: string;
  toVersion: string;
  /** The step running now, if any. */
  currentStep?: string;
  steps: StepRecord[];
  rollback: StepRecord[];
  /** What an operator should know that is no step: an approval refused, a version already running. */
  notes?: string[];
  /** Each gate released: by whom, why, when (absent before the first, and from upgrades before they were kept). */
  approvals?: ApprovalRecord[];
}

export interface PulledImage {
  image: string;
  digest: string;
}

export interface BackupFile {
  /** Path inside the backup's directory, e.g. `aegis.dump` or `final/aegis.dump`. */
  name: string;
  bytes: number;
  sha256: string;
}

export interface BackupRecord {
  /** Directory holding the dumps and `manifest.json`. */
  location: string;
  files: BackupFile[];
  /** The migrated databases dumped again with their writers stopped, just before the new runtime started. */
  final?: { takenAt: string; files: BackupFile[] };
  /**
   * The PostgreSQL role (`POSTGRES_USER`) the dumps were taken as: a restore by hand runs as it. Absent from the
   * records of runs started before it was kept.
   */
  role?: string;
}

/** What a rollback's restore replaced, and with what: the writes it discarded and where the replaced data is. */
export interface DatabaseRestore {
  databases: string[];
  /** The dumps restored, e.g. `<backup>/final/aegis.dump`. */
  dumps: string[];
  /** When those dumps began; with `writersStopped`, nothing was written between the writers' stop and then. */
  dumpTakenAt: string;
  /** The dumps are the final ones, taken with every writer stopped (else the first backup's, taken live). */
  writersStopped: boolean;
  /** When the restored databases took the live ones' names. */
  restoredAt: string;
  /** The writes lost: from the dump to the restore (with the writers stopped: only the new release's own). */
  discardedWrites: { from: string; to: string };
  /** The databases as they were just before the restore: a restore destroys nothing. */
  preRestoreDumps: string[];
}

export interface UpgradeCause {
  /** The step that failed, e.g. `migrations` or `redeploy:core`. */
  step: string;
  pod?: PodName;
  /** What failed, with the decisive log line or check. */
  message: string;
}

/** What an upgrade produced besides its steps. */
/** The host's `aegis` binary as the upgrade found it (docs/host-cli.md), kept in the backup for the rollback. */
export interface KeptHostCli {
  /** Its copy in the backup; none when the checkout had no `bin/aegis` (then the upgrade installs none). */
  copy?: string;
  /** What it answered to `--version` (`aegis 1.2.0`). */
  version?: string;
}

/** What the host runs once the upgrade (or its rollback) put a binary in place. */
export interface HostCliResult {
  /** `bin/aegis says aegis 1.3.0`, or why nothing was installed. */
  binary: string;
  /** `aegis-fuse-daemon active (running), pid 1234, listening on 0.0.0.0:50053, on bin/aegis`, or why no daemon was restarted. */
  daemon: string;
}

export interface UpgradeOutcome {
  images: PulledImage[];
  backup?: BackupRecord;
  /** The host's binary and FUSE daemon after the upgrade, or after its rollback. */
  hostCli?: HostCliResult;
  migrationsApplied: number[];
  databaseRestored: boolean;
  /** Set when a restore ran: a downgrade's (`restoreFrom`) or a rollback's, the later one when both did. */
  databaseRestore?: DatabaseRestore;
  cause?: UpgradeCause;
  /** An operator cancelled it: who and why, as far as they said (absent from upgrades before it was kept). */
  aborted?: AbortRequest;
  /** Commands that finish the job by hand, when the rollback itself failed. */
  manualSteps?: string[];
  /** Why the upgrade's lock could not be released once it ended, and how to clear it. */
  lockNotReleased?: string;
  /** A dry run's answer. */
  plan?: UpgradePlan;
}

/** What the Temporal UI and `temporal workflow list` show of each upgrade (its memo). */
export interface UpgradeMemo {
  environment: string;
  fromVersion?: string;
  toVersion: string;
  outcome: UpgradePhase;
}

/** What an upgrade ends with: its result, or the details of its failure. */
export type UpgradeReport = UpgradeProgress & UpgradeOutcome;

export const progressQuery = defineQuery<UpgradeProgress>('progress');
export const approveSignal = defineSignal<[Approval?]>('approve');
/**
 * Records who aborts and why (`{"by":…,"reason":…}`; older clients sent the reason as a string); the cancellation that
 * follows it rolls the upgrade back.
 */
export const abortReasonSignal = defineSignal<[AbortRequest | string]>('abortReason');

/**
 * The upgrade request's flags, declared once: `start`, `plan`, `schedule create` and the fleet's commands all take
 * them from here, and the one parser checks what they give. A request field without its flag does not compile.
 */
import { Option, type Command } from 'commander';
import { NOT_FOR_FLEETS } from '../core/fleet-request';
import { DEFAULT_APPROVAL_TIMEOUT, type UpgradeRequest } from '../core/upgrade';
import { RESTORE_POLICIES, STRATEGIES } from '../core/upgrade-request';

/** The fields a flag sets: the version is the command's argument, and a dry run is what `plan` is. */
export type RequestFlagField = Exclude<keyof UpgradeRequest, 'targetVersion' | 'dryRun'>;

interface RequestFlag {
  /** As commander takes it: `--pods <a,b>`; a switch names no value. Its camel case is the field's name. */
  flag: string;
  /** What it does, and the default the parser applies when it is left out. */
  help: string;
  /** `list`: items between commas; `switch`: true when given; `text`: as given. */
  kind: 'list' | 'switch' | 'text';
  choices?: readonly string[];
}

export const REQUEST_FLAGS = {
  pods: {
    flag: '--pods <a,b>',
    kind: 'list',
    help: "pods to redeploy, in order (default: the rolling order, limited to the profile's pods)",
  },
  strategy: {
    flag: '--strategy <name>',
    kind: 'text',
    choices: STRATEGIES,
    help: "rolling (default): pod by pod; full: the guide's teardown, deploy, bootstrap-secrets",
  },
  approveBefore: {
    flag: '--approve-before <pods>',
    kind: 'list',
    help: 'pods before which the upgrade waits for `aegis-upgrade approve` (default: none)',
  },
  approvalTimeout: {
    flag: '--approval-timeout <duration>',
    kind: 'text',
    help: `how long an approval gate waits, e.g. '30 minutes', before the upgrade rolls back (default: ${DEFAULT_APPROVAL_TIMEOUT})`,
  },
  restoreDatabase: {
    flag: '--restore-database <policy>',
    kind: 'text',
    choices: RESTORE_POLICIES,
    help: 'when a rollback restores the aegis database; auto (default): if its schema moved',
  },
  redeployAll: {
    flag: '--redeploy-all',
    kind: 'switch',
    help: 'redeploy every pod, as the guide does, even those the new tag leaves as they are (default: only pods it changes)',
  },
  concurrentAfterCore: {
    flag: '--concurrent-after-core',
    kind: 'switch',
    help: 'once the runtime is migrated and ready, redeploy the pods after it at once (default: one by one)',
  },
  refreshMovingImages: {
    flag: '--refresh-moving-images',
    kind: 'switch',
    help: 'let the redeploys pull third-party images on moving tags (pgbouncer:latest) anew (default: pre-flight refuses an upgrade that would change them)',
  },
  restoreFrom: {
    flag: '--restore-from <backup>',
    kind: 'text',
    help: "a downgrade's backup, restored before the runtime's redeploy: the directory name of the one taken when the platform last left this version (required to go to an older version)",
  },
} as const satisfies Record<RequestFlagField, RequestFlag>;

/** The heading of the flags a fleet passes on to each environment's upgrade. */
export const FLEET_REQUEST_HEADING = "Each environment's upgrade:";

/** The flags' values as commander parses them: text, or true for a switch given. */
export type RequestFlagValues = {
  [F in RequestFlagField]?: (typeof REQUEST_FLAGS)[F]['kind'] extends 'switch' ? boolean : string;
};

const flags = Object.entries(REQUEST_FLAGS) as [RequestFlagField, RequestFlag][];

/**
 * Adds the request's flags to one environment's command; to a fleet's, those it passes on to each environment's
 * upgrade (not a downgrade's backup: each deployment has its own), under their heading.
 */
export function addRequestFlags(command: Command, of: 'environment' | 'fleet' = 'environment'): Command {
  for (const [field, { flag, help, choices }] of flags) {
    if (of === 'fleet' && (NOT_FOR_FLEETS as readonly string[]).includes(field)) continue;
    const option = new Option(flag, help);
    if (choices) option.choices(choices);
    if (of === 'fleet') option.helpGroup(FLEET_REQUEST_HEADING);
    command.addOption(option);
  }
  return command;
}

/**
 * The request fields the given flags say, for the one parser to check: a list split at its commas (an empty item
 * kept, for the parser to refuse), a switch only when given. A flag left out writes nothing: its default is the
 * parser's to apply.
 */
export function requestFieldsOf(options: RequestFlagValues): Partial<Record<RequestFlagField, unknown>> {
  const fields: Partial<Record<RequestFlagField, unknown>> = {};
  for (const [field, { kind }] of flags) {
    const value = options[field];
    if (value === undefined || value === false) continue;
    fields[field] = kind === 'list' && typeof value === 'string' ? value.split(',').map((item) => item.trim()) : value;
  }
  return fields;
}

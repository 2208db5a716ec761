/**
 * The upgrade's custom search attributes: what the Temporal UI and `temporal workflow list --query` filter on, and what
 * `aegis-upgrade status` and `history` ask the server for. Defined once here; `aegis-upgrade setup` registers them, the
 * dev server starts with them (scripts/dev-server.sh), the CLI sets them at start and the workflow keeps them current.
 * No Node built-in: the workflow bundle imports this file.
 */
import { SearchAttributeType, defineSearchAttributeKey, type SearchAttributePair } from '@temporalio/common';
import type { UpgradePhase } from './upgrade';

/** The environment upgraded, e.g. `default` (`aegis-upgrade --env`). */
export const AegisEnvironment = defineSearchAttributeKey('AegisEnvironment', SearchAttributeType.KEYWORD);
/** The version running before the upgrade, once pre-flight has read it. */
export const AegisFromVersion = defineSearchAttributeKey('AegisFromVersion', SearchAttributeType.KEYWORD);
/** The version the upgrade goes to. */
export const AegisToVersion = defineSearchAttributeKey('AegisToVersion', SearchAttributeType.KEYWORD);
/** Where the upgrade is (`upgrading`, `waiting-for-approval`, `rolling-back`) or how it ended (`completed`, …). */
export const AegisPhase = defineSearchAttributeKey('AegisPhase', SearchAttributeType.KEYWORD);

/** Every attribute the upgrade uses, as `aegis-upgrade setup` registers them. */
export const UPGRADE_SEARCH_ATTRIBUTES = [AegisEnvironment, AegisFromVersion, AegisToVersion, AegisPhase] as const;

/** `KEYWORD` → `Keyword`, as the temporal CLI (`--search-attribute AegisPhase=Keyword`) and the UI spell a type. */
export function searchAttributeTypeName(type: SearchAttributeType): string {
  return (
    type.charAt(0) +
    type
      .slice(1)
      .toLowerCase()
      .replace(/_(.)/g, (_match, next: string) => next.toUpperCase())
  );
}

/** What an upgrade is known by from its start: the CLI and the schedules set these, before any worker runs it. */
export function startSearchAttributes(environment: string, toVersion: string): SearchAttributePair[] {
  return [
    { key: AegisEnvironment, value: environment },
    { key: AegisToVersion, value: toVersion },
  ];
}

export interface UpgradeAttributes {
  environment: string;
  fromVersion?: string;
  toVersion: string;
  phase: UpgradePhase;
}

/** The attributes of an upgrade as it stands; `fromVersion` only once pre-flight has read it. */
export function upgradeSearchAttributes({
  environment,
  fromVersion,
  toVersion,
  phase,
}: UpgradeAttributes): SearchAttributePair[] {
  return [
    ...startSearchAttributes(environment, toVersion),
    ...(fromVersion ? [{ key: AegisFromVersion, value: fromVersion }] : []),
    { key: AegisPhase, value: phase },
  ];
}

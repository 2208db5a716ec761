/** What `aegis-upgrade fleet plan|status` print: the waves, and each environment's phase. */
import type { FleetEnvironmentPhase, FleetProgress } from '../core/fleet';
import { describeAction } from '../core/operator-actions';
import type { UnpolledQueue } from './fleet';
import type { ParsedFleetRequest } from '../core/fleet-request';
import { plain, type Paint } from './terminal';

const PHASE_COLOUR: Partial<Record<FleetEnvironmentPhase, keyof Paint>> = {
  pending: 'dim',
  upgrading: 'active',
  baking: 'active',
  completed: 'ok',
  'rolling-back': 'warn',
  'rolled-back': 'warn',
  failed: 'bad',
  skipped: 'dim',
};

/** The waves a fleet request makes, and how each passes to the next; nothing was changed. */
export function renderFleetPlan(request: ParsedFleetRequest): string {
  const { waves, targetVersion, maxConcurrent, bake, approveBetweenWaves, failureBudget, onBudgetExceeded } = request;
  const budget = request.hasCanary
    ? `${request.canaryFailureBudget} for the canary wave, ${failureBudget} per wave after it`
    : `${failureBudget} per wave`;
  const between = [
    bake && `each wave stays healthy for ${bake}`,
    approveBetweenWaves && 'then waits for `aegis-upgrade fleet approve`',
  ].filter(Boolean);
  return [
    `Fleet plan: ${request.environments.length} environments to ${targetVersion} in ${waves.length} waves (nothing was changed)`,
    ...waves.map((wave, index) => `  Wave ${index + 1}: ${wave.join(', ')}`),
    `At once: ${maxConcurrent === undefined ? 'the whole wave' : `at most ${maxConcurrent}`}`,
    ...(between.length > 0 ? [`Between waves: ${between.join(', ')}`] : []),
    `Failure budget: ${budget}; over it: ${
      onBudgetExceeded !== 'roll-back-wave'
        ? 'stop, leaving the wave as it is'
        : request.restoreDatabaseOnWaveRollback
          ? "stop, and roll back the wave's upgraded environments to their previous versions, restoring their " +
            'pre-upgrade dumps (the writes since are discarded)'
          : "stop, and roll back the wave's upgraded environments to their previous versions, keeping their data " +
            '(one whose upgrade migrated the schema is left as it is)'
    }`,
  ].join('\n');
}

/** The fleet's coarse view: its phase, then each environment with its wave and phase; `status --env X` has the steps. */
export function renderFleetProgress(
  progress: FleetProgress,
  paint: Paint = plain,
  unpolled: readonly UnpolledQueue[] = [],
): string {
  const width = Math.max(...progress.environments.map((entry) => entry.environment.length), 11);
  return [
    `Fleet to ${progress.targetVersion}: ${progress.phase}, wave ${progress.wave + 1} of ${progress.waves}`,
    ...progress.environments.map((entry) => {
      const phase = paint[PHASE_COLOUR[entry.phase] ?? 'dim'](entry.phase.padEnd(12));
      const from = entry.fromVersion ? ` from ${entry.fromVersion}` : '';
      const queue = unpolled.find((idle) => idle.environment === entry.environment)?.taskQueue;
      const worker = queue
        ? ` — ${paint.bad(`no worker polls its queue ${queue} (none in the last minute): start its worker`)}`
        : '';
      return `  ${entry.environment.padEnd(width)}  wave ${entry.wave + 1}  ${phase}${from}${entry.detail ? ` — ${entry.detail}` : ''}${worker}`.trimEnd();
    }),
    ...(progress.approvals ?? []).map(
      (approval) => `Wave ${approval.wave + 1} approved${describeAction(approval)} (${approval.at})`,
    ),
  ].join('\n');
}

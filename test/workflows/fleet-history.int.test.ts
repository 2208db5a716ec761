import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { FleetFailureType, fleetWorkflowId, type FleetProgress } from '../../src/core/fleet';
import { upgradeWorkflowId, type UpgradeRequest } from '../../src/core/upgrade';
import { FROM_VERSION, startStandInFleet, type StandInFleet } from '../helpers/fleet';
import { recordEveryRun } from '../helpers/histories';

/**
 * A server that suggests continue-as-new after 5 events: every bake continues as new before it checks health, so the
 * bake resumes in the next run with what it carried, and a rollback of the wave there uses what the first run recorded.
 */
describe('a fleet whose bake continues as new', () => {
  let fleet: StandInFleet;
  beforeAll(async () => {
    fleet = await startStandInFleet(['canary', 'eu', 'us'], {
      dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 5 },
    });
  }, 120_000);
  afterAll(async () => fleet?.close());

  test('resumes the bake in a new run, and rolls the wave back from what it carried', async () => {
    const eu = fleet.environments.get('eu');
    if (!eu) throw new Error('no environment eu');
    eu.healthProblems = ['aegis-core: runtime answers 503'];
    const handle = await fleet.startFleet('long-bake', {
      targetVersion: '1.3.0',
      environments: ['canary', 'eu', 'us'],
      bake: '1 second',
      onBudgetExceeded: 'roll-back-wave',
      restoreDatabaseOnWaveRollback: true,
    });
    const error = await handle.result().then(
      () => new Error('Expected the fleet to fail'),
      (failure: unknown) => failure,
    );
    if (!(error instanceof WorkflowFailedError) || !(error.cause instanceof ApplicationFailure)) throw error;
    expect(error.cause.type).toBe(FleetFailureType.FleetRolledBack);
    const progress = error.cause.details?.[0] as FleetProgress;
    expect(progress.environments.map((entry) => [entry.environment, entry.phase])).toEqual([
      ['canary', 'completed'],
      ['eu', 'rolled-back'],
      ['us', 'rolled-back'],
    ]);
    expect(error.cause.message).toContain(
      'Failed: none. Rolled back: eu (health lost while baking: aegis-core: runtime answers 503), us. Upgraded: canary.',
    );
    expect(progress.run).toBe(4);
    expect(fleet.environments.get('us')?.version).toBe(FROM_VERSION);
    const us = fleet.environments.get('us')?.standIn.inputs(upgradeWorkflowId('us'), 'checkPreflight') as {
      request: UpgradeRequest;
    }[];
    expect(us.map(({ request }) => request.restoreFrom)).toEqual([
      undefined,
      expect.stringMatching(/-1\.2\.0-to-1\.3\.0$/),
    ]);

    // Two waves, each bake continued as new once: four runs.
    const runs: string[] = [];
    const query = `WorkflowId = '${fleetWorkflowId('long-bake')}'`;
    for await (const run of fleet.client.workflow.list({ query })) runs.push(run.runId);
    expect(runs).toHaveLength(4);
    await recordEveryRun(handle, 'fleet-rolled-back');
  }, 60_000);
});

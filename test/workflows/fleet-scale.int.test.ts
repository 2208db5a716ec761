import { measureFleet } from '../../bench/fleet';

/**
 * The fleet's scale: 100 environments, each with its own stand-in worker on its own queue, in five waves (a canary,
 * then a quarter of the fleet at a time). No timing is asserted: the figures are the benchmark's.
 */
describe('a fleet of 100 environments on stand-ins', () => {
  test('completes, its history bounded: one run per wave, each run far below the history limit', async () => {
    const figures = await measureFleet(100);
    expect(figures).toMatchObject({ environments: 100, completed: 100, waves: 5, runs: 5 });
    // A wave of 25 upgrades: about 10 events each; the design bound (HISTORY_BOUND) is 10,000 for a wave of 1000.
    expect(figures.maxRunEvents).toBeLessThan(400);
    expect(figures.historyEvents).toBeGreaterThan(figures.maxRunEvents);
    expect(figures.workerRssMiB).toBeGreaterThan(0);
  }, 600_000);
});

import { measureScale } from '../../bench/scale';

/**
 * The scale benchmark's measure itself, small: two upgrades on a real dev server and a worker process built by
 * `npm run build`. Figures are checked for sense, never for speed.
 */
describe('measureScale', () => {
  test('N upgrades complete on one worker process, whose memory and CPU are measured', async () => {
    const lines: string[] = [];
    const [round, ...more] = await measureScale([2], (line) => lines.push(line));

    expect(more).toEqual([]);
    expect(round).toMatchObject({ upgrades: 2, completed: 2 });
    expect(round?.wallSeconds).toBeGreaterThan(0);
    expect(round?.workerIdleRssMiB).toBeGreaterThan(0);
    expect(round?.workerPeakRssMiB).toBeGreaterThanOrEqual(round?.workerIdleRssMiB ?? Infinity);
    expect(round?.rssSamples).toBeGreaterThanOrEqual(2);
    expect(round?.workerCpuSeconds).toBeGreaterThan(0);
    expect(round?.serverCpuSeconds).toBeGreaterThan(0);
    // Started, every step's activities and workflow tasks, completed: tens of events.
    expect(round?.historyEventsPerUpgrade).toBeGreaterThan(50);
    const [fewest, most] = round?.historyEventsRange ?? [0, 0];
    expect(fewest).toBeLessThanOrEqual(round?.historyEventsPerUpgrade ?? 0);
    expect(most).toBeGreaterThanOrEqual(round?.historyEventsPerUpgrade ?? Infinity);
    expect(lines).toContainEqual(expect.stringMatching(/N=2: 2\/2 completed/));
  }, 180_000);

  test('a count that is no whole number of upgrades is refused before anything starts', async () => {
    await expect(measureScale([1, 0, 2.5], () => undefined)).rejects.toThrow(
      'Expected upgrade counts to be whole numbers ≥ 1, got 0, 2.5',
    );
  });
});

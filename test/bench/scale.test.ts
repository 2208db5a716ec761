import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, RetryState } from '@temporalio/common';
import { formatScaleTable, incompleteUpgrade, type ScaleResult } from '../../bench/scale';
import type { UpgradeReport } from '../../src/core/upgrade';

function result(upgrades: number, overrides: Partial<ScaleResult> = {}): ScaleResult {
  return {
    upgrades,
    wallSeconds: 1,
    completed: upgrades,
    workerIdleRssMiB: 200,
    workerPeakRssMiB: 250,
    rssSamples: 10,
    workerCpuSeconds: 0.5,
    serverCpuSeconds: 0.4,
    historyEventsPerUpgrade: 119,
    historyEventsRange: [119, 119],
    ...overrides,
  };
}

/** The table's cells by column title, for the row of N = `upgrades`. */
function row(table: string, upgrades: number): Record<string, string> {
  const lines = table.split('\n');
  const header = lines[1] ?? '';
  // Titles hold single spaces; columns are two or more apart.
  const titles = header.trim().split(/\s{2,}/);
  const cells = lines.map((line) => line.trim().split(/\s{2,}/)).find((cells) => cells[0] === String(upgrades));
  if (!cells) throw new Error(`No row for N=${upgrades} in:\n${table}`);
  return Object.fromEntries(titles.map((title, index) => [title, cells[index] ?? '']));
}

describe('formatScaleTable', () => {
  const table = formatScaleTable([
    result(1, { wallSeconds: 1.5, workerPeakRssMiB: 250, workerCpuSeconds: 0.3 }),
    result(10, { wallSeconds: 3, workerPeakRssMiB: 300, workerCpuSeconds: 1.2, historyEventsRange: [119, 122] }),
    result(100, { wallSeconds: 25, workerPeakRssMiB: 400, workerCpuSeconds: 7.5, serverCpuSeconds: 12.5 }),
  ]);

  test('one row per N, with the time and CPU per upgrade', () => {
    expect(row(table, 10)).toMatchObject({
      completed: '10',
      'wall s': '3.00',
      's/upgrade': '0.300',
      'peak RSS MiB': '300',
      'worker CPU s': '1.20',
      'CPU ms/upgrade': '120',
    });
    expect(row(table, 100)).toMatchObject({ 'server CPU s': '12.50', 's/upgrade': '0.250' });
  });

  test('the growth columns divide by the N=1 row', () => {
    expect(row(table, 1)).toMatchObject({ 'wall ×': '1.00', 'peak RSS ×': '1.00', 'worker CPU ×': '1.00' });
    expect(row(table, 10)).toMatchObject({ 'wall ×': '2.00', 'peak RSS ×': '1.20', 'worker CPU ×': '4.00' });
    expect(row(table, 100)).toMatchObject({ 'wall ×': '16.7', 'peak RSS ×': '1.60', 'worker CPU ×': '25.0' });
    expect(table).toContain('growth against N=1');
  });

  test('without an N=1 row, against the smallest N', () => {
    const withoutOne = formatScaleTable([result(20, { wallSeconds: 4 }), result(5, { wallSeconds: 2 })]);
    expect(row(withoutOne, 20)['wall ×']).toBe('2.00');
    expect(withoutOne).toContain('growth against N=5');
  });

  test('history events: one figure when every upgrade had as many, else the range', () => {
    expect(row(table, 1)['events/upgrade']).toBe('119');
    expect(row(table, 10)['events/upgrade']).toBe('119–122');
  });

  test('no results, no table', () => {
    expect(formatScaleTable([])).toBe('scale: no results');
  });
});

describe('incompleteUpgrade', () => {
  const report = (phase: UpgradeReport['phase']) => ({ phase, toVersion: '1.3.0', steps: [], rollback: [] });

  test('a completed upgrade is no failure', () => {
    expect(incompleteUpgrade('aegis-upgrade-scale-1-1', { status: 'fulfilled', value: report('completed') })).toBe(
      undefined,
    );
  });

  test('an upgrade that ended otherwise, or failed, is named with why', () => {
    expect(incompleteUpgrade('aegis-upgrade-scale-1-1', { status: 'fulfilled', value: report('planned') })).toBe(
      'aegis-upgrade-scale-1-1 ended planned',
    );
    const failed = new WorkflowFailedError(
      'Workflow execution failed',
      ApplicationFailure.nonRetryable('core did not become ready', 'UpgradeRolledBack'),
      RetryState.NON_RETRYABLE_FAILURE,
    );
    expect(incompleteUpgrade('aegis-upgrade-scale-10-3', { status: 'rejected', reason: failed })).toBe(
      'aegis-upgrade-scale-10-3 failed: core did not become ready',
    );
  });
});

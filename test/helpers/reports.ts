import type { UpgradeReport } from '../../src/core/upgrade';

/** An upgrade's report as a unit test starts from: 1.2.0 → 1.3.0, no step, nothing pulled or restored. */
export function upgradeReport(overrides: Partial<UpgradeReport> = {}): UpgradeReport {
  return {
    phase: 'upgrading',
    fromVersion: '1.2.0',
    toVersion: '1.3.0',
    steps: [],
    rollback: [],
    images: [],
    migrationsApplied: [],
    databaseRestored: false,
    ...overrides,
  };
}

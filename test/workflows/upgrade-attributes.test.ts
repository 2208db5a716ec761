import type { StepRecord, UpgradeProgress } from '../../src/core/upgrade';
import { currentDetails } from '../../src/workflows/upgrade-attributes';

const step = (id: string, title: string, status: StepRecord['status'], extra: Partial<StepRecord> = {}) => ({
  id,
  title,
  status,
  ...extra,
});

const progress = (fields: Partial<UpgradeProgress>): UpgradeProgress => ({
  phase: 'upgrading',
  fromVersion: '1.2.0',
  toVersion: '1.3.0',
  steps: [
    step('pull-images', 'Pin the running images and pull the new ones', 'succeeded'),
    step('redeploy:core', 'Redeploy core', 'running', { startedAt: '2026-11-26T03:04:05.000Z' }),
    step('validate', 'Validate the platform', 'pending'),
  ],
  rollback: [],
  currentStep: 'redeploy:core',
  ...fields,
});

describe('currentDetails: what the Temporal UI shows of a running upgrade', () => {
  it('says the environment, the versions, the phase and the step running now, counted', () => {
    expect(currentDetails('staging', progress({}))).toBe(
      [
        '**AEGIS upgrade of staging: 1.2.0 → 1.3.0**',
        'Phase: upgrading',
        'Step 2 of 3: Redeploy core (since 2026-11-26T03:04:05.000Z)',
      ].join('\n\n'),
    );
  });

  it('names the images a moving tag meant when the upgrade began', () => {
    const fromLatest = progress({ fromVersion: 'latest', fromDigest: `sha256:${'ab'.repeat(32)}` });
    expect(currentDetails('staging', fromLatest).split('\n')[0]).toBe(
      '**AEGIS upgrade of staging: latest (sha256:abababababab) → 1.3.0**',
    );
  });

  it('counts the rollback step while rolling back, and names the step that failed', () => {
    const rollingBack = progress({
      phase: 'rolling-back',
      steps: [step('redeploy:core', 'Redeploy core', 'failed', { detail: 'core not ready after 300 s' })],
      rollback: [
        step('rollback:restore-tag', 'Restore the tag', 'succeeded'),
        step('rollback:redeploy:core', 'Redeploy core on 1.2.0', 'running', { startedAt: '2026-11-26T03:10:00.000Z' }),
      ],
      currentStep: 'rollback:redeploy:core',
    });

    expect(currentDetails('default', rollingBack).split('\n\n')).toEqual([
      '**AEGIS upgrade of default: 1.2.0 → 1.3.0**',
      'Phase: rolling-back',
      'Rollback step 2 of 2: Redeploy core on 1.2.0 (since 2026-11-26T03:10:00.000Z)',
      'Failed: Redeploy core: core not ready after 300 s',
    ]);
  });

  it('before pre-flight has read the running version, and between steps', () => {
    expect(currentDetails('default', progress({ fromVersion: undefined, currentStep: undefined }))).toBe(
      '**AEGIS upgrade of default: ? → 1.3.0**\n\nPhase: upgrading',
    );
  });
});

import { doctorReport, type DoctorCheck } from '../../src/core/doctor';
import { renderDoctor } from '../../src/cli/render-doctor';

describe('renderDoctor', () => {
  const checks: DoctorCheck[] = [
    { name: 'Profile full', status: 'ok', detail: 'pods database, core' },
    { name: 'Pod database', status: 'warning', detail: 'moving tags: pgbouncer', fix: 'pin a version tag' },
    { name: '.env', status: 'blocked', detail: 'no .env', fix: 'cp .env.example .env' },
    { name: 'PgBouncer', status: 'not-applicable', detail: 'the profile runs no database pod' },
  ];

  it('prints ✓, !, ✗ or – per check, the fix under each that did not pass, then the verdict', () => {
    expect(renderDoctor(doctorReport('/srv/aegis-deploy', 'full', checks))).toBe(
      [
        'Deploy checkout /srv/aegis-deploy, profile full',
        '✓ Profile full: pods database, core',
        '! Pod database: moving tags: pgbouncer',
        '    fix: pin a version tag',
        '✗ .env: no .env',
        '    fix: cp .env.example .env',
        '– PgBouncer: not applicable: the profile runs no database pod',
        '4 checks: 1 ✓, 1 !, 1 ✗, 1 –. An upgrade is blocked: fix each ✗, then run doctor again',
      ].join('\n'),
    );
  });

  it('says nothing blocks when no check does, warnings and all', () => {
    const report = doctorReport('/srv/aegis-deploy', 'full', checks.slice(0, 2));

    expect(report.blocked).toBe(false);
    expect(renderDoctor(report).split('\n').at(-1)).toBe('2 checks: 1 ✓, 1 !, 0 ✗, 0 –. Nothing blocks an upgrade');
  });
});

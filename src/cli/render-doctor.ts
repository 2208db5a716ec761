import type { CheckStatus, DoctorReport } from '../core/doctor';
import { plain, type Paint } from './terminal';

/** The mark of each status: ✓ passed, ! worth a look, ✗ blocks an upgrade, – nothing of the kind here. */
const MARKS: Record<CheckStatus, (paint: Paint) => string> = {
  ok: (paint) => paint.ok('✓'),
  warning: (paint) => paint.warn('!'),
  blocked: (paint) => paint.bad('✗'),
  'not-applicable': (paint) => paint.dim('–'),
};

/** One line per check, its fix under each that did not pass, and the verdict. */
export function renderDoctor({ root, profile, checks, blocked }: DoctorReport, paint: Paint = plain): string {
  const lines = [`Deploy checkout ${root}, profile ${profile}`];
  for (const { name, status, detail, fix } of checks) {
    lines.push(
      `${MARKS[status](paint)} ${name}: ${status === 'not-applicable' ? `not applicable: ${detail}` : detail}`,
    );
    if (fix && status !== 'ok') lines.push(`    fix: ${fix}`);
  }
  const count = (status: CheckStatus) => checks.filter((check) => check.status === status).length;
  const tally = `${checks.length} checks: ${count('ok')} ✓, ${count('warning')} !, ${count('blocked')} ✗, ${count('not-applicable')} –`;
  lines.push(
    blocked
      ? paint.bad(`${tally}. An upgrade is blocked: fix each ✗, then run doctor again`)
      : `${tally}. Nothing blocks an upgrade`,
  );
  return lines.join('\n');
}

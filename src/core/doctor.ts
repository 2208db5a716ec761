/**
 * What `aegis-upgrade doctor` finds on an AEGIS host, as data: each check says whether it blocks an upgrade and, when
 * it does not pass, how to fix it. Pre-flight runs the same checks (docs/doctor.md).
 */
import { PreflightFailed } from './errors';

/**
 * `ok` passed; `warning` does not block an upgrade but is worth a look; `blocked` an upgrade would be refused or fail;
 * `not-applicable` the deployment has nothing of the kind (no PgBouncer in its profile, say), and says so.
 */
export const CHECK_STATUSES = ['ok', 'warning', 'blocked', 'not-applicable'] as const;
export type CheckStatus = (typeof CHECK_STATUSES)[number];

export interface DoctorCheck {
  /** What is checked, e.g. `pod database` or `make targets`. */
  name: string;
  status: CheckStatus;
  /** What was found. */
  detail: string;
  /** What to do, for a check that did not pass. */
  fix?: string;
}

export interface DoctorReport {
  root: string;
  profile: string;
  checks: DoctorCheck[];
  /** Some check blocks an upgrade: `doctor` exits 1. */
  blocked: boolean;
}

export const passed = (name: string, detail: string): DoctorCheck => ({ name, status: 'ok', detail });
export const warned = (name: string, detail: string, fix: string): DoctorCheck => ({
  name,
  status: 'warning',
  detail,
  fix,
});
export const blocking = (name: string, detail: string, fix: string): DoctorCheck => ({
  name,
  status: 'blocked',
  detail,
  fix,
});
export const notApplicable = (name: string, detail: string): DoctorCheck => ({
  name,
  status: 'not-applicable',
  detail,
});

export function doctorReport(root: string, profile: string, checks: DoctorCheck[]): DoctorReport {
  return { root, profile, checks, blocked: checks.some((check) => check.status === 'blocked') };
}

/** The first line of what went wrong: a check's detail is one line. */
export function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n', 1)[0] ?? '';
}

/**
 * A check as pre-flight takes it: the line it adds to its checks (`Disk: 1.2 GiB free for …`, a warning with its fix),
 * or, when the check blocks, the refusal with the fix.
 */
export function preflightLine(check: DoctorCheck): string {
  return preflightLines([check])[0] ?? '';
}

/**
 * Checks as pre-flight takes them: refused, naming every blocking check with its fix; else one line for those that
 * passed (by name) and one for each of the others.
 */
export function preflightLines(checks: readonly DoctorCheck[], passedAs?: string): string[] {
  const blocked = checks.filter((check) => check.status === 'blocked');
  if (blocked.length > 0) {
    const each = blocked.map(({ name, detail, fix }) => `${name}: ${detail}; ${fix ?? 'fix it'}`);
    throw new PreflightFailed(`${each.join('. ')}; nothing was changed`);
  }
  const line = ({ name, detail, status, fix }: DoctorCheck) =>
    `${name}: ${status === 'not-applicable' ? `not applicable: ${detail}` : detail}${status === 'warning' && fix ? ` (${fix})` : ''}`;
  if (passedAs === undefined) return checks.map(line);
  const passed = checks.filter((check) => check.status === 'ok');
  return [
    ...(passed.length > 0 ? [`${passedAs}: ${passed.map((check) => check.name).join(', ')} ✓`] : []),
    ...checks.filter((check) => check.status !== 'ok').map(line),
  ];
}

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
 * A check as pre-flight takes it: the line it adds to its checks (`Make targets: registry-login, redeploy, …`), or,
 * when the check blocks, the refusal with its fix.
 */
export function preflightLine({ name, status, detail, fix }: DoctorCheck): string {
  if (status === 'blocked') throw new PreflightFailed(`${name}: ${detail}; ${fix ?? 'fix it'}; nothing was changed`);
  return `${name}: ${detail}${status === 'warning' && fix ? ` (${fix})` : ''}`;
}

/** `aegis-upgrade doctor`: parses its options, runs the checks on this host, prints them (docs/doctor.md). */
import path from 'node:path';
import { DEFAULT_AEGIS_PROFILE } from '../config';
import { ExitCode, UsageError } from './errors';
import { isJson, paintOf, toJson, type GlobalOptions } from './output';
import { renderDoctor } from './render-doctor';

export interface DoctorOptions extends GlobalOptions {
  /** The deploy checkout. @default AEGIS_ROOT */
  root?: string;
  /** Its profile. @default AEGIS_PROFILE, else 'development' */
  aegisProfile?: string;
  filesOnly?: boolean;
}

export async function doctor(options: DoctorOptions): Promise<number> {
  const root = options.root ?? process.env.AEGIS_ROOT?.trim();
  if (!root) throw new UsageError('doctor needs the deploy checkout: --root DIR, or AEGIS_ROOT');
  const profile = options.aegisProfile ?? (process.env.AEGIS_PROFILE?.trim() || DEFAULT_AEGIS_PROFILE);
  // The connection's flags go before the variables, as for the worker.
  const { address, namespace, profile: temporalProfile } = options;
  const variables = {
    ...process.env,
    ...(address !== undefined && { TEMPORAL_ADDRESS: address }),
    ...(namespace !== undefined && { TEMPORAL_NAMESPACE: namespace }),
    ...(temporalProfile !== undefined && { TEMPORAL_PROFILE: temporalProfile }),
  };
  // Imported here only: the host's checks run programs (execa) and reach PostgreSQL (pg), which no other command loads.
  const { runDoctor } = await import('../host/doctor/index.js');
  const report = await runDoctor({ root: path.resolve(root), profile, variables, filesOnly: options.filesOnly });
  console.log(isJson(options) ? toJson(report) : renderDoctor(report, paintOf(options)));
  return report.blocked ? ExitCode.Failed : ExitCode.Done;
}

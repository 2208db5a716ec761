/**
 * `aegis-upgrade doctor`: everything an upgrade will need on this host, checked without changing anything, each check
 * with its fix (docs/doctor.md). The checks of the checkout's files run on a checkout alone; the live ones look at
 * podman, PostgreSQL, the host binary and Temporal, and say so when they cannot.
 */
import { ConfigError, loadConfig, type Config } from '../../config';
import type { Env } from '../../config/variables';
import { blocking, doctorReport, type DoctorReport } from '../../core/doctor';
import { createCommandRunner, type RunCommand } from '../command';
import { createDeployment } from '../deployment';
import { readDeployEnv, secretValues } from '../env-file';
import { checkoutChecks } from './checkout';
import type { LiveContext } from './context';
import { checkBackupSpace, checkExtensions, checkPgBouncer, checkPostgres } from './database';
import { checkFuseDaemon, checkHostBinary } from './host-binary';
import { checkPodmanMode, checkPodsRunning, checkRegistryLogin } from './podman';
import { checkTemporal } from './temporal';

export interface DoctorInput {
  /** The deploy checkout. */
  root: string;
  /** Its profile under `profiles/`. */
  profile: string;
  /** The variables the worker would read (AEGIS_*, TEMPORAL_*: docs/configuration.md). */
  variables: Env;
  /** Only the checks of the checkout's files: no podman, PostgreSQL or Temporal. @default false */
  filesOnly?: boolean;
  /** Runs make, podman and the rest. @default a runner that logs nothing and hides `.env`'s secrets */
  run?: RunCommand;
}

/** The live checks, in the order they are printed; they run side by side. */
const LIVE_CHECKS = [
  checkPodmanMode,
  checkPodsRunning,
  checkRegistryLogin,
  checkBackupSpace,
  checkPostgres,
  checkExtensions,
  checkPgBouncer,
  checkHostBinary,
  checkFuseDaemon,
  checkTemporal,
] as const;

export async function runDoctor({
  root,
  profile,
  variables,
  filesOnly = false,
  run,
}: DoctorInput): Promise<DoctorReport> {
  const { pods, checks } = await checkoutChecks({ root, profile });
  if (filesOnly) return doctorReport(root, profile, checks);
  let config: Config;
  try {
    config = loadConfig({ ...variables, AEGIS_ROOT: root, AEGIS_PROFILE: profile });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const fix = 'set it as the worker has it (docs/configuration.md); the live checks need it';
    return doctorReport(root, profile, [...checks, blocking('Configuration', error.message, fix)]);
  }
  const runner =
    run ??
    createCommandRunner(
      async () => secretValues(await readDeployEnv(root).catch(() => new Map<string, string>())),
      () => undefined,
    );
  const context: LiveContext = { deployment: createDeployment({ config, run: runner }), run: runner, pods };
  const live = await Promise.all(LIVE_CHECKS.map((check) => check(context)));
  return doctorReport(root, profile, [...checks, ...live]);
}

import type { Config } from '../config';
import { createBackupActivities } from './backup';
import { createCommandRunner, type RunCommand } from '../host/command';
import {
  createComponentPreflightActivities,
  type ComponentPreflight,
  type ComponentPreflightInput,
} from './component-preflight';
import { createComponentTagActivities } from './component-tags';
import { createComponentVersionActivities } from './component-versions';
import { createDeployment } from '../host/deployment';
import { readDeployEnv, secretValues } from '../host/env-file';
import { deploymentEnvironmentOf, guardEnvironment } from '../host/environment-guard';
import { createImageActivities } from './images';
import { createMigrationActivities } from './migrations';
import { createNotifyActivities } from './notify';
import { createPodActivities } from './pods';
import { createPostgresMajorActivities } from './postgres-major';
import { createHealthActivities } from './health';
import { createHostCliActivities } from './host-cli';
import { heartbeatWhile } from '../host/heartbeat';
import { createPreflightActivities, type PreflightInput, type PreflightReport } from './preflight';
import { createTagActivities } from './tag';
import { createTemporalDatabaseActivities } from './temporal-databases';
import { createLockActivities } from './lock';
import { createValidationActivities } from './validation';
import { createWriterActivities } from './writers';

export interface ActivityDeps {
  config: Config;
  /** @default a real runner (execa), hiding the secrets of the checkout's `.env` */
  run?: RunCommand;
}

/**
 * Every activity of the upgrade, bound to one deployment, and each refusing, before it touches anything, a workflow of
 * another environment than the worker's (a task misrouted to this worker's queue).
 */
export function createActivities({ config, run }: ActivityDeps) {
  const { environment, root } = config.aegis;
  return guardEnvironment(deploymentActivities({ config, run }), {
    environment,
    root,
    deploymentEnvironment: () => deploymentEnvironmentOf(root),
  });
}

function deploymentActivities({ config, run }: ActivityDeps) {
  const deployment = createDeployment({
    config,
    run: run ?? createCommandRunner(async () => secretValues(await readDeployEnv(config.aegis.root))),
  });
  const preflight = createPreflightActivities(deployment);
  const componentPreflight = createComponentPreflightActivities(deployment);
  return {
    /** Every check before anything changes; heartbeats, so a worker that dies in it is replaced within seconds. */
    async checkPreflight(input: PreflightInput): Promise<PreflightReport> {
      return heartbeatWhile(preflight.checkPreflight(input), 'pre-flight checks');
    },
    /** A component upgrade's checks, heartbeating like the AEGIS upgrade's. */
    async checkComponentPreflight(input: ComponentPreflightInput): Promise<ComponentPreflight> {
      return heartbeatWhile(componentPreflight.checkComponentPreflight(input), 'component pre-flight checks');
    },
    ...createImageActivities(deployment),
    ...createBackupActivities(deployment),
    ...createTagActivities(deployment),
    ...createPodActivities(deployment),
    ...createHostCliActivities(deployment),
    ...createMigrationActivities(deployment),
    ...createValidationActivities(deployment),
    ...createWriterActivities(deployment),
    ...createHealthActivities(deployment),
    ...createComponentTagActivities(deployment),
    ...createComponentVersionActivities(deployment),
    ...createPostgresMajorActivities(deployment),
    ...createTemporalDatabaseActivities(deployment),
    ...createLockActivities(config.aegis.root),
    ...createNotifyActivities(config.notifications.webhooks),
  };
}

export type UpgradeActivities = ReturnType<typeof createActivities>;

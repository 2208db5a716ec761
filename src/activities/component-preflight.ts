import {
  ComponentUpgradeRefused,
  openbaoSupported,
  planComponentUpgrade,
  temporalImageTag,
  type ComponentPlan,
  type ParsedComponentRequest,
} from '../core/components';
import { preflightLines } from '../core/doctor';
import { podFullName } from '../core/platform';
import type { UpgradeLockOwner } from '../core/upgrade-lock';
import { freshClusterStorage, isNamedVolume, type ClusterStorage } from '../core/cluster-storage';
import {
  checkDataDirectory,
  checkVolumeName,
  componentImageTag,
  databaseClusterStorage,
  postgresImageTag,
} from './component-tags';
import { deployedPods, podYamlPath, type Deployment } from '../host/deployment';
import { IMAGE_TAG_KEY } from '../host/env-file';
import { InvalidActivityInput, PreflightFailed } from '../core/errors';
import { createHealthProbe } from './health';
import { acquireLock, claimableLock } from '../host/lock-file';
import {
  containerImages,
  makeVariables,
  podName,
  readPodDefinition,
  type PodDefinition,
} from '../host/pod-definitions';
import { platformTemporalAddress, sameTemporalServer } from '../host/temporal-identity';
import { openbaoVersion } from '../host/openbao-version';
import { createPostgresMajorChecks } from '../host/postgres-major-checks';
import { checkoutChecks } from '../host/doctor/checkout';
import { checkRunsAsOwner } from '../host/doctor/podman';

export { platformTemporalAddress } from '../host/temporal-identity';

export interface ComponentPreflightInput {
  request: ParsedComponentRequest;
  lockOwner: UpgradeLockOwner;
  /** Pre-flight of a dry run: read only, takes no lock. */
  readOnly?: boolean;
}

export interface ComponentPreflight {
  plan: ComponentPlan;
  /** The component image's tag in its pod's YAML now, and the one the upgrade sets. */
  currentTag: string;
  targetTag: string;
  /** AEGIS_IMAGE_TAG: pod temporal also runs the AEGIS worker, whose readiness is judged on it. */
  aegisTag: string;
  /** A major PostgreSQL upgrade: where the cluster is now, and the fresh storage of the same kind for the new one. */
  dataStorage?: ClusterStorage;
  newDataStorage?: ClusterStorage;
  /**
   * What pre-flight reported of a major before named volumes (host directories only): no longer set, read only when an
   * upgrade started then is replayed (`majorUpgradeStorage`).
   */
  dataDirectory?: string;
  newDataDirectory?: string;
  /** One line per check passed. */
  checks: string[];
}

/** The cluster's storage as a major upgrade writes beside it: a path or name it can write in the YAML again on rollback. */
function plainClusterStorage(storage: ClusterStorage): ClusterStorage {
  try {
    return isNamedVolume(storage)
      ? { volume: checkVolumeName(storage.volume) }
      : { directory: checkDataDirectory(storage.directory) };
  } catch (error) {
    if (!(error instanceof InvalidActivityInput)) throw error;
    const [what, fix] = isNamedVolume(storage)
      ? [`named volume \`${storage.volume}\`, not a plain volume name`, 'name it with letters, digits, _ . and -']
      : [`directory \`${storage.directory}\`, not a plain absolute path`, 'write the path out in full'];
    throw new PreflightFailed(
      `pod-database.yaml names the cluster's ${what}: a major upgrade writes new storage beside it and names both in ` +
        `the YAML; ${fix}; nothing was changed`,
    );
  }
}

/** The OpenBao images of a pod (`openbao/openbao`, `openbao/openbao-ubi`, …). */
function openbaoImages(definition: PodDefinition) {
  return containerImages(definition).filter((image) => image.name.split('/').pop()?.startsWith('openbao'));
}

export function createComponentPreflightActivities(deployment: Deployment) {
  const { config, root } = deployment;
  const health = createHealthProbe(deployment);
  /** A pod's YAML as `make redeploy` renders it: its ports and tags as podman reads them. */
  const rendered = async (pod: string) => readPodDefinition(root, pod, makeVariables(await deployment.env()));
  const majorChecks = createPostgresMajorChecks(deployment);

  async function runningVersion(request: ParsedComponentRequest): Promise<{ version: string; tag: string }> {
    const pod = request.component === 'postgres' ? 'database' : 'temporal';
    const tag = componentImageTag(await readPodDefinition(root, pod), pod);
    if (!tag) throw new PreflightFailed(`${podYamlPath(root, pod)} names no ${request.component} image to upgrade`);
    if (request.component === 'temporal') return { version: tag, tag };
    const [row] = await deployment.query<{ version: string }>(
      "select current_setting('server_version') as version",
      'postgres',
    );
    return { version: /^\d+(?:\.\d+)?/.exec(row?.version ?? '')?.[0] ?? String(row?.version), tag };
  }

  /** OpenBao 2.0+ wherever a pod of the profile runs it (the guide's table); a pod without it passes. */
  async function checkOpenbao(pods: readonly string[]): Promise<string> {
    const found: string[] = [];
    for (const pod of pods) {
      const definition = await rendered(pod).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return undefined;
        throw error;
      });
      if (!definition) continue;
      for (const { tag = '', container } of openbaoImages(definition)) {
        // A moving tag (`latest`, as the real checkout pins it) says no version: the running container does.
        const running = `${podName(definition) ?? podFullName(pod)}-${container}`;
        const version = await openbaoVersion(deployment, running, tag);
        if (version === undefined || openbaoSupported(version) !== true) {
          const read = version === undefined ? `\`bao version\` in ${running} said none` : `it runs ${version}`;
          throw new PreflightFailed(
            `OpenBao ${tag} in ${podFullName(pod)} is not known to be supported (${read}): AEGIS needs OpenBao 2.0+ ` +
              '(pin a version tag of 2.0 or later, or start the pod); nothing was changed',
          );
        }
        found.push(`${version === tag ? tag : `${version} (tag ${tag})`} (${podFullName(pod)})`);
      }
    }
    return found.length > 0 ? `OpenBao ${found.join(', ')} (2.0+ required)` : 'OpenBao: not run by this deployment';
  }

  /** A Temporal upgrade, and a major PostgreSQL one (it stops pod temporal), refuse to run on the platform's Temporal. */
  async function checkOwnTemporal(plan: ComponentPlan): Promise<string> {
    if (plan.strategy === 'postgres-minor') return 'Temporal: the database restarts under it, as any redeploy does';
    const { connection, namespace } = config.temporal;
    const platform = platformTemporalAddress(await rendered('temporal'));
    const { same, why } = await sameTemporalServer(connection, platform, namespace);
    if (same) {
      throw new PreflightFailed(
        `This worker's Temporal server (${connection.address}) is the platform's own (pod temporal, ${why}): a ${plan.strategy} ` +
          'upgrade stops it and restores its databases under this very upgrade. Run the worker on another Temporal server (TEMPORAL_ADDRESS) for it; nothing was changed',
      );
    }
    return `Temporal: this worker's server is not the platform's: ${why}`;
  }

  async function checkHealthy(pods: readonly string[]): Promise<string> {
    const { problems } = await health.healthProblems(pods);
    if (problems.length > 0) {
      throw new PreflightFailed(
        `The platform is not healthy before the upgrade: ${problems.join('; ')}. Bring it back first; nothing was changed`,
      );
    }
    return `Platform healthy: pods ${pods.join(', ')} running`;
  }

  return {
    /** Every check before a component upgrade changes anything; the lock is taken last. */
    async checkComponentPreflight({ request, lockOwner, readOnly = false }: ComponentPreflightInput) {
      await claimableLock(root, lockOwner);
      // The checkout's files as doctor reads them: a redeploy of the component's pod needs them sound.
      const { checks: fileChecks } = await checkoutChecks({ root, profile: config.aegis.profile });
      const checkout = preflightLines([...fileChecks, await checkRunsAsOwner(root)], 'Checkout');
      const { version, tag } = await runningVersion(request);
      let plan: ComponentPlan;
      try {
        plan = planComponentUpgrade(request, version);
      } catch (error) {
        if (error instanceof ComponentUpgradeRefused) throw new PreflightFailed(error.message);
        throw error;
      }
      const pods = await deployedPods(deployment);
      const checks = [
        `${request.component} ${version} → ${plan.toVersion} (${plan.strategy})`,
        ...(plan.override ? [plan.override] : []),
        await checkOpenbao(pods),
        await checkOwnTemporal(plan),
        await checkHealthy(pods),
        ...checkout,
      ];
      const report: ComponentPreflight = {
        plan,
        currentTag: tag,
        targetTag:
          request.component === 'postgres' ? postgresImageTag(tag, plan.toVersion) : temporalImageTag(plan.toVersion),
        aegisTag: (await deployment.env()).get(IMAGE_TAG_KEY) || 'latest',
        checks,
      };
      if (plan.strategy === 'postgres-major') {
        const dataStorage = plainClusterStorage(databaseClusterStorage(await readPodDefinition(root, 'database')));
        const newDataStorage = freshClusterStorage(dataStorage, plan.toVersion.split('.')[0] ?? plan.toVersion);
        report.dataStorage = dataStorage;
        report.newDataStorage = newDataStorage;
        // Before anything stops: a missing extension or a full disk would otherwise fail the restore half-way.
        checks.push(await majorChecks.checkExtensions(report.targetTag));
        checks.push(await majorChecks.checkDiskSpace({ dataStorage, newDataStorage }));
      }
      if (!readOnly) {
        await acquireLock(root, {
          ...lockOwner,
          fromVersion: `${request.component} ${version}`,
          toVersion: `${request.component} ${plan.toVersion}`,
        });
      }
      return report;
    },
  };
}

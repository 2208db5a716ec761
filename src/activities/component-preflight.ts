import fs from 'node:fs/promises';
import {
  ComponentUpgradeRefused,
  openbaoSupported,
  planComponentUpgrade,
  temporalImageTag,
  type ComponentPlan,
  type ParsedComponentRequest,
} from '../components';
import { podFullName } from '../platform';
import type { UpgradeLockOwner } from '../upgrade-lock';
import { componentImageTag, databaseDataDirectory, postgresImageTag } from './component-tags';
import type { Deployment } from './deployment';
import { podYamlPath } from './deployment';
import { IMAGE_TAG_KEY } from './env-file';
import { PreflightFailed } from './errors';
import { createHealthProbe, deployedPods } from './health';
import { acquireLock, claimableLock } from './lock';
import { createPostgresMajorChecks } from './postgres-major-checks';

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
  /** PostgreSQL: the cluster's host directory now; a major upgrade's fresh sibling for the new cluster. */
  dataDirectory?: string;
  newDataDirectory?: string;
  /** One line per check passed. */
  checks: string[];
}

/** The OpenBao image line of a pod's YAML (`image: "…/openbao/openbao:2.0.1"`). */
const OPENBAO_IMAGE = /^\s*(?:-\s*)?image:\s*["']?[^\s"']*openbao[^\s"':]*:([^\s"']+)/gm;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]', '0.0.0.0']);

/** The host port pod temporal publishes its frontend (container port 7233) on, as its YAML says. */
export function temporalHostPort(podYaml: string): number | undefined {
  const port = /containerPort:\s*7233\s*\n\s*hostPort:\s*["']?(\d+)/.exec(podYaml)?.[1];
  return port === undefined ? undefined : Number(port);
}

/**
 * Whether this worker's own Temporal server is the platform's (FACTS.md): stopping it, or restoring its databases,
 * would stop or rewind this very upgrade. Judged from the worker's address: a loopback host on the pod's published port.
 */
export function isPlatformTemporal(workerAddress: string, podYaml: string): boolean {
  const match = /^(.*):(\d+)$/.exec(workerAddress);
  const port = temporalHostPort(podYaml);
  return Boolean(match && port !== undefined && Number(match[2]) === port && LOOPBACK.has(match[1] ?? ''));
}

export function createComponentPreflightActivities(deployment: Deployment) {
  const { config, root } = deployment;
  const health = createHealthProbe(deployment);
  const majorChecks = createPostgresMajorChecks(deployment);
  const yaml = (pod: string) => fs.readFile(podYamlPath(root, pod as 'database'), 'utf8');

  async function runningVersion(request: ParsedComponentRequest): Promise<{ version: string; tag: string }> {
    const pod = request.component === 'postgres' ? 'database' : 'temporal';
    const tag = componentImageTag(await yaml(pod), pod);
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
      const text = await yaml(pod).catch(() => '');
      for (const [, tag = ''] of text.matchAll(OPENBAO_IMAGE)) {
        if (openbaoSupported(tag) !== true) {
          throw new PreflightFailed(
            `OpenBao ${tag} in ${podFullName(pod)} is not supported: AEGIS needs OpenBao 2.0+ (pin a version tag of 2.0 or later); nothing was changed`,
          );
        }
        found.push(`${tag} (${podFullName(pod)})`);
      }
    }
    return found.length > 0 ? `OpenBao ${found.join(', ')} (2.0+ required)` : 'OpenBao: not run by this deployment';
  }

  /** A Temporal upgrade, and a major PostgreSQL one (it stops pod temporal), refuse to run on the platform's Temporal. */
  async function checkOwnTemporal(plan: ComponentPlan): Promise<string> {
    if (plan.strategy === 'postgres-minor') return 'Temporal: the database restarts under it, as any redeploy does';
    const address = config.temporal.connection.address;
    if (isPlatformTemporal(address, await yaml('temporal').catch(() => ''))) {
      throw new PreflightFailed(
        `This worker's Temporal server (${address}) is the platform's own (pod temporal): a ${plan.strategy} upgrade stops it ` +
          'and restores its databases under this very upgrade. Run the worker on another Temporal server (TEMPORAL_ADDRESS) for it; nothing was changed',
      );
    }
    return `Temporal: this worker's server (${address}) is not the platform's`;
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
      ];
      const report: ComponentPreflight = {
        plan,
        currentTag: tag,
        targetTag:
          request.component === 'postgres' ? postgresImageTag(tag, plan.toVersion) : temporalImageTag(plan.toVersion),
        aegisTag: (await deployment.env()).get(IMAGE_TAG_KEY) || 'latest',
        checks,
      };
      if (request.component === 'postgres') {
        const dataDirectory = databaseDataDirectory(await yaml('database'));
        if (!dataDirectory) throw new PreflightFailed(`${podYamlPath(root, 'database')} mounts no data directory`);
        report.dataDirectory = dataDirectory;
        if (plan.strategy === 'postgres-major') {
          const newDataDirectory = `${dataDirectory}-${plan.toVersion.split('.')[0]}`;
          report.newDataDirectory = newDataDirectory;
          // Before anything stops: a missing extension or a full disk would otherwise fail the restore half-way.
          checks.push(await majorChecks.checkExtensions(report.targetTag));
          checks.push(await majorChecks.checkDiskSpace({ newDataDirectory }));
        }
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

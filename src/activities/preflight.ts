import semver from 'semver';
import { COMPATIBILITY } from '../core/components';
import { preflightLine, preflightLines } from '../core/doctor';
import {
  AEGIS_IMAGES,
  POD_IMAGES,
  ROLLING_ORDER,
  RUNTIME_CONTAINER,
  fromLabel,
  isMutableTag,
  type PodName,
} from '../core/platform';
import type { BackupRecord, UpgradePlan, UpgradeRequest } from '../core/upgrade';
import type { UpgradeLockOwner } from '../core/upgrade-lock';
import { deployedPods, type Deployment } from '../host/deployment';
import { IMAGE_TAG_KEY } from '../host/env-file';
import { CommandFailed, PreflightFailed } from '../core/errors';
import { imageExistsInRegistry, imageRef } from './images';
import { runningImageDigest } from '../host/running-images';
import { acquireLock, claimableLock } from '../host/lock-file';
import { componentImageTag } from './component-tags';
import { podsUnchangedByTag, readPodDefinition, type PodDefinition } from '../host/pod-definitions';
import { settleAll } from '../core/settle-all';
import { compareWithRegistry, describeMovingImage, thirdPartyMovingTags, wouldChange } from '../host/moving-images';
import { checkDowngrade, isDowngrade } from '../host/downgrade';
import { createHealthProbe } from './health';
import { REGISTRY_CREDENTIALS, checkoutChecks } from '../host/doctor/checkout';
import { checkRunsAsOwner } from '../host/doctor/podman';
import {
  backupSpaceCheck,
  checkPgBouncer,
  measureBackupSpace,
  postgresVersionCheck,
  readPostgresVersion,
} from '../host/doctor/database';

/** A login answers in seconds; a registry that does not answer within this is down for the upgrade's purpose. */
const REGISTRY_LOGIN_TIMEOUT_MS = 2 * 60_000;

export interface PreflightInput {
  request: UpgradeRequest;
  /** The upgrade's run: it holds the deployment's lock. */
  lockOwner: UpgradeLockOwner;
  /** Pre-flight of a dry run: read only, takes no lock. */
  readOnly?: boolean;
}

export interface PreflightReport {
  profile: string;
  fromVersion: string;
  /**
   * With a moving `fromVersion` (`latest`): the digest of the image the runtime runs, what `latest` meant when the
   * upgrade began (the rollback returns to the images pinned in Step 2, not to the registry's `latest` of then).
   */
  fromDigest?: string;
  toVersion: string;
  /** The pods to redeploy, in order. */
  pods: PodName[];
  /**
   * Pods of the profile the new tag leaves as they are (their rendered definition is the same): not redeployed. Only
   * when the request names no pods and does not ask `redeployAll`. Absent in reports of older workers.
   */
  unchangedPods?: PodName[];
  /** Per AEGIS container of the pods: what runs now → what will. */
  images: UpgradePlan['images'];
  /** One line per check passed, e.g. `PostgreSQL 15.18 (15+ required)`. */
  checks: string[];
  databaseBytes: number;
  /** A downgrade's backup to restore before the runtime's redeploy (`restoreFrom`, checked). */
  restoreFrom?: BackupRecord;
  /**
   * `.env` names the target and every AEGIS container of the pods runs it: an upgrade has nothing to do. A tag in
   * `.env` alone is not enough: an upgrade terminated after setting it left the old images running.
   */
  alreadyAtTarget: boolean;
}

/**
 * Resolves the pods to redeploy, in order, and checks them against the deployment's profile: the one check of the
 * request that needs the deployment (the workflow parsed the rest, see upgrade-request.ts).
 */
export function resolvePods(request: UpgradeRequest, deployed: readonly string[]): PodName[] {
  const requested = request.pods ?? ROLLING_ORDER.filter((pod) => deployed.includes(pod));
  const missing = [...new Set([...requested, ...(request.approveBefore ?? [])])].filter(
    (pod) => !deployed.includes(pod),
  );
  if (missing.length > 0) {
    throw new PreflightFailed(missing.map((pod) => `Pod \`${pod}\` is not in the deployment's profile`).join('; '));
  }
  return requested;
}

/** The Temporal server version pinned in pod temporal's YAML (`temporalio/auto-setup:1.23.0` → `1.23`). */
export function temporalServerVersion(definition: PodDefinition): string | undefined {
  const tag = componentImageTag(definition, 'temporal') ?? '';
  const version = semver.coerce(tag);
  const majorMinor = version && `${version.major}.${version.minor}`;
  return majorMinor && tag.startsWith(majorMinor) ? majorMinor : undefined;
}

/** `.env` names the target but some containers run another image: an upgrade ended part-way (terminated) left it so. */
export function partlyUpgraded(tag: string, images: UpgradePlan['images']): string {
  const behind = images.filter((image) => image.current !== image.target);
  return (
    `Left part-way by an earlier upgrade: .env names ${tag} already, but ` +
    `${behind.map((image) => `${image.container} runs ${image.current}`).join(', ')}; every pod is redeployed`
  );
}

export function createPreflightActivities(deployment: Deployment) {
  const { config, root } = deployment;
  const health = createHealthProbe(deployment);

  async function checkCompatibility(pods: PodName[]): Promise<string[]> {
    const checks = [preflightLine(postgresVersionCheck(await readPostgresVersion(deployment)))];
    if (pods.includes('temporal')) {
      const temporal = temporalServerVersion(await readPodDefinition(root, 'temporal'));
      if (!temporal || !(COMPATIBILITY.temporal as readonly string[]).includes(temporal)) {
        throw new PreflightFailed(
          `Temporal ${temporal ?? '(not found in pod-temporal.yaml)'} is not supported: AEGIS needs ${COMPATIBILITY.temporal.join(' or ')}`,
        );
      }
      checks.push(`Temporal ${temporal} (${COMPATIBILITY.temporal.join('–')} supported)`);
    }
    return checks;
  }

  async function checkFreeSpace(): Promise<{ check: string; databaseBytes: number }> {
    const space = await measureBackupSpace(deployment);
    return { check: preflightLine(backupSpaceCheck(space)), databaseBytes: space.databaseBytes };
  }

  /**
   * `make registry-login`, which every `make redeploy` runs first: an empty or expired `GHCR_TOKEN`, or a registry
   * that does not answer, refuses the upgrade now rather than failing its first redeploy, or its rollback. It writes
   * podman's login, as any redeploy does; the command runner hides the token from its output.
   */
  async function checkRegistryLogin(): Promise<string> {
    try {
      await deployment.make('registry-login', {}, { timeoutMs: REGISTRY_LOGIN_TIMEOUT_MS });
    } catch (error) {
      if (!(error instanceof CommandFailed)) throw error;
      throw new PreflightFailed(
        `\`make registry-login\` fails in ${root}, and every \`make redeploy\` runs it first: ${error.outputTail}. ` +
          'Check GHCR_USERNAME and GHCR_TOKEN in .env and that the registry answers, then start again; nothing was changed',
      );
    }
    return 'Registry login: make registry-login succeeded';
  }

  /**
   * The platform is healthy now, judged as the upgrade's last step judges it, plus every pod of the profile running
   * and passing its own health check: a service already down would fail the upgrade at its end and roll it back. A
   * downgrade is the way back from a version that broke the platform (a fleet's rollback, an operator's): it goes ahead
   * on an unhealthy platform, the problems in its checks' lines, and its own validation judges the result.
   */
  async function checkPlatformHealthy(profile: readonly string[], downgrade: boolean): Promise<string> {
    const { problems, servicesUp } = await health.healthProblems(profile);
    if (problems.length > 0 && downgrade) {
      return `Platform not healthy, a downgrade goes ahead all the same (its validation judges the result): ${problems.join('; ')}`;
    }
    if (problems.length > 0) {
      throw new PreflightFailed(
        `The platform is not healthy before the upgrade: ${problems.join('; ')}. An upgrade would fail at its end and ` +
          'roll back: bring these back first (`make status`, `make validate`), then start again; nothing was changed',
      );
    }
    return `Platform healthy: pods ${profile.join(', ')} running; ${servicesUp} services ✓; runtime ready`;
  }

  /**
   * The pods of the default list the new tag does not change: redeploying them is downtime for nothing. A request that
   * names its pods, gates one, asks `redeployAll` or the full strategy redeploys them all the same. So does a `.env`
   * that names the target already (an upgrade terminated after setting it): its pods may run anything.
   */
  async function podsNotToRedeploy(
    request: UpgradeRequest,
    pods: PodName[],
    deployEnv: Map<string, string>,
  ): Promise<PodName[]> {
    const tagSet = deployEnv.get(IMAGE_TAG_KEY) === request.targetVersion;
    if (request.pods || request.redeployAll || request.strategy === 'full' || tagSet) return [];
    const unchanged = await podsUnchangedByTag(root, pods, deployEnv, request.targetVersion);
    return unchanged.filter((pod) => !request.approveBefore?.includes(pod));
  }

  /**
   * A `pods` list may leave out only pods the new tag does not change: the upgrade sets the tag in `.env`, and the next
   * `make redeploy` of a pod left out, by anyone, would upgrade it without a backup or a migration check.
   */
  async function checkNoPodLeftBehind(
    request: UpgradeRequest,
    deployed: readonly string[],
    deployEnv: Map<string, string>,
  ) {
    if (!request.pods) return;
    const leftOut = ROLLING_ORDER.filter((pod) => deployed.includes(pod) && !request.pods?.includes(pod));
    const unchanged = await podsUnchangedByTag(root, leftOut, deployEnv, request.targetVersion);
    const behind = leftOut.filter((pod) => !unchanged.includes(pod));
    if (behind.length === 0) return;
    const named = behind.map((pod) => `\`${pod}\``).join(', ');
    throw new PreflightFailed(
      `\`pods\` leaves out ${named}, whose definition ${request.targetVersion} changes: the upgrade sets ` +
        `${IMAGE_TAG_KEY}=${request.targetVersion} in .env, so their next \`make redeploy\` would upgrade them without a ` +
        `backup or a migration check. Add them to \`pods\`, or leave \`pods\` out; nothing was changed`,
    );
  }

  /**
   * Third-party images on moving tags in the pods the upgrade redeploys (the whole profile for the full strategy):
   * their redeploy runs what the registry names now. One that would change refuses the upgrade unless the request asks
   * `refreshMovingImages`: the operator chose a new AEGIS release, not a new PgBouncer. Run after the registry login.
   */
  async function checkMovingImages(
    request: UpgradeRequest,
    redeployed: readonly string[],
    deployed: readonly string[],
  ): Promise<string[]> {
    const images = await compareWithRegistry(deployment, await thirdPartyMovingTags(deployment, redeployed));
    if (images.length === 0) {
      const others = deployed.filter((pod) => !redeployed.includes(pod));
      const elsewhere = [...new Set((await thirdPartyMovingTags(deployment, others)).map((tag) => tag.pod))];
      return elsewhere.length > 0
        ? [`Moving tags: none in the pods redeployed; ${elsewhere.join(', ')} (on moving tags) stay as they run`]
        : [];
    }
    const changing = images.filter(wouldChange);
    if (changing.length > 0 && !request.refreshMovingImages) {
      const pods = [...new Set(changing.map((image) => image.pod))].join(', ');
      throw new PreflightFailed(
        `Redeploying ${pods} would pull other images than run now under their moving tags: ` +
          `${changing.map(describeMovingImage).join('; ')}. Ask for them with \`refreshMovingImages\` ` +
          '(--refresh-moving-images), pin a version tag in the pod definition, or leave the pod out (the rolling ' +
          'strategy redeploys only the pods the release changes); nothing was changed',
      );
    }
    const verdict =
      changing.length > 0
        ? "the redeploys pull the registry's, as asked (refreshMovingImages); a rollback keeps them: the tag names no other"
        : 'the redeploys run them as they are';
    return [`Moving tags: ${images.map(describeMovingImage).join('; ')}; ${verdict}`];
  }

  return {
    async checkPreflight({ request, lockOwner, readOnly = false }: PreflightInput): Promise<PreflightReport> {
      // First: a deployment another upgrade holds (or left locked) is refused as such, whatever else is wrong.
      await claimableLock(root, lockOwner);
      // The checkout's files as doctor reads them; its registry credentials are tried by `make registry-login` below.
      const { checks: fileChecks } = await checkoutChecks({ root, profile: config.aegis.profile });
      const checkout = preflightLines(
        [...fileChecks.filter((check) => check.name !== REGISTRY_CREDENTIALS), await checkRunsAsOwner(root)],
        'Checkout',
      );
      const deployed = await deployedPods(deployment);
      const requested = resolvePods(request, deployed);
      const deployEnv = await deployment.env();
      await checkNoPodLeftBehind(request, deployed, deployEnv);
      const unchangedPods = await podsNotToRedeploy(request, requested, deployEnv);
      const pods = requested.filter((pod) => !unchangedPods.includes(pod));
      const fromVersion = deployEnv.get(IMAGE_TAG_KEY) || 'latest';
      const downgrade = isDowngrade(request.targetVersion, fromVersion);
      // Independent looks side by side; a refusal is the first failed check in this order, as if run one by one.
      const redeployed = request.strategy === 'full' ? deployed : pods;
      const [{ login, restoreFrom, moving }, compatibility, space, healthy, pgbouncer, running, fromDigest] =
        await settleAll([
          (async () => {
            const login = await checkRegistryLogin();
            const restoreFrom = await checkDowngrade(request, fromVersion, config.aegis.backupDir);
            if (restoreFrom && !pods.includes('core')) {
              throw new PreflightFailed('`restoreFrom` needs the runtime redeployed: add `core` to `pods`');
            }
            const targets = AEGIS_IMAGES.map((image) => imageRef(config.aegis.registry, image, request.targetVersion));
            const present = await Promise.all(targets.map((ref) => imageExistsInRegistry(deployment, ref)));
            const missing = targets.filter((_, index) => !present[index]);
            if (missing.length > 0) {
              throw new PreflightFailed(`Images missing from the registry: ${missing.join(', ')}; nothing was changed`);
            }
            return { login, restoreFrom, moving: await checkMovingImages(request, redeployed, deployed) };
          })(),
          checkCompatibility(pods),
          checkFreeSpace(),
          checkPlatformHealthy(deployed, downgrade),
          checkPgBouncer({ deployment, pods: deployed }).then(preflightLine),
          deployment.runningImages(),
          isMutableTag(fromVersion) ? runningImageDigest(deployment, RUNTIME_CONTAINER) : Promise.resolve(undefined),
        ]);
      const checks = [login, `Images ${request.targetVersion} present: ${AEGIS_IMAGES.join(', ')}`];
      if (restoreFrom)
        checks.push(`Downgrade ${fromVersion} → ${request.targetVersion}: restores ${restoreFrom.location}`);
      checks.push(...compatibility, space.check, healthy, pgbouncer, ...moving, ...checkout);
      if (fromDigest) {
        checks.push(
          `${fromLabel({ fromVersion, fromDigest })} runs now: a rollback returns to these images, whatever ${fromVersion} names by then`,
        );
      }
      const images = pods.flatMap((pod) => {
        const entry = POD_IMAGES[pod];
        if (!entry) return [];
        const target = imageRef(config.aegis.registry, entry.image, request.targetVersion);
        return [{ container: entry.container, current: running[entry.container] ?? '(not running)', target }];
      });
      const alreadyAtTarget =
        fromVersion === request.targetVersion && images.every((image) => image.current === image.target);
      if (alreadyAtTarget) checks.push(`Already at ${fromVersion}: an upgrade changes nothing`);
      else if (fromVersion === request.targetVersion) checks.push(partlyUpgraded(fromVersion, images));
      if (!readOnly) await acquireLock(root, { ...lockOwner, fromVersion, toVersion: request.targetVersion });
      return {
        profile: config.aegis.profile,
        fromVersion,
        ...(fromDigest && { fromDigest }),
        toVersion: request.targetVersion,
        pods,
        unchangedPods,
        images,
        checks,
        databaseBytes: space.databaseBytes,
        ...(restoreFrom && { restoreFrom }),
        alreadyAtTarget,
      };
    },
  };
}

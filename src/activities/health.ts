import { podFullName } from '../core/platform';
import { deployedPods, type Deployment } from '../host/deployment';
import { IMAGE_TAG_KEY } from '../host/env-file';
import { createPodProbes, podProblem } from './pods';
import { createPlatformProbe } from './validation';

/**
 * Every health problem of the platform now: each pod of the profile running and passing its own health check, and the
 * look the upgrade's last step takes (`make validate`, the runtime ready). Pre-flight and a fleet's bake both ask this.
 */
export function createHealthProbe(deployment: Deployment) {
  const probes = createPodProbes(deployment);
  const platform = createPlatformProbe(deployment);
  return {
    async healthProblems(profile: readonly string[]): Promise<{ problems: string[]; servicesUp: number }> {
      const podProblems = await Promise.all(
        profile.map(async (pod) => {
          const problem = podProblem(await probes.inspectPod(pod), undefined) ?? (await probes.healthProblem(pod));
          return problem && `${podFullName(pod)}: ${problem}`;
        }),
      );
      const look = await platform.lookAtPlatform();
      const problems = [...podProblems.filter((problem): problem is string => Boolean(problem)), ...look.problems];
      return { problems, servicesUp: look.servicesUp };
    },
  };
}

export interface HealthInput {
  /** The environment the caller means: a fleet's checks name it, their workflow ID does not (environment-guard.ts). */
  environment: string;
}

/** One read-only look at a deployment's health, and the version its `.env` names. */
export interface HealthReport {
  environment: string;
  version: string;
  /** Empty when healthy. */
  problems: string[];
}

export function createHealthActivities(deployment: Deployment) {
  const probe = createHealthProbe(deployment);
  return {
    /** Read only: a fleet asks it of each upgraded environment while its wave bakes. */
    async checkHealth({ environment }: HealthInput): Promise<HealthReport> {
      const version = (await deployment.env()).get(IMAGE_TAG_KEY) || 'latest';
      const { problems } = await probe.healthProblems(await deployedPods(deployment));
      return { environment, version, problems };
    },
  };
}

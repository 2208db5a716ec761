import type { Deployment } from '../../src/host/deployment';
import { createPodActivities, podProblem } from '../../src/activities/pods';
import { activityEnvironment } from '../helpers/activity-environment';

const TARGET = 'ghcr.io/100monkeys-ai/aegis-runtime:1.3.0';
const created = '2026-11-26T03:00:00Z';

describe('podProblem', () => {
  it('says the pod does not exist when podman found none', () => {
    expect(podProblem(undefined, TARGET)).toBe('pod does not exist');
  });

  it('names every container that is not running, with its state', () => {
    const problem = podProblem(
      {
        created,
        containers: [
          { name: 'aegis-core-aegis-runtime', state: 'exited', image: TARGET },
          { name: 'aegis-core-sidecar', state: 'created', image: 'sidecar:1' },
          { name: 'aegis-core-proxy', state: 'running', image: 'proxy:1' },
        ],
      },
      TARGET,
    );

    expect(problem).toBe('aegis-core-aegis-runtime is exited, aegis-core-sidecar is created');
  });

  it('says no container runs the target image when the pod still runs the old one', () => {
    const state = {
      created,
      containers: [
        { name: 'aegis-core-aegis-runtime', state: 'running', image: 'ghcr.io/100monkeys-ai/aegis-runtime:1.2.0' },
      ],
    };

    expect(podProblem(state, TARGET)).toBe(`no container runs ${TARGET}`);
  });

  it('finds no problem when every container runs and one runs the target image', () => {
    const state = {
      created,
      containers: [
        { name: 'aegis-core-aegis-runtime', state: 'running', image: TARGET },
        { name: 'aegis-core-proxy', state: 'running', image: 'proxy:1' },
      ],
    };

    expect(podProblem(state, TARGET)).toBeUndefined();
  });

  it('checks only that containers run for a pod without an AEGIS image', () => {
    const state = {
      created,
      containers: [{ name: 'aegis-database-postgres', state: 'running', image: 'postgres:15' }],
    };

    expect(podProblem(state, undefined)).toBeUndefined();
  });
});

describe('redeployPod', () => {
  /** Every command the activity runs, in order, as `make …` or `podman …`. */
  function recordingDeployment(failLogin = false) {
    const commands: string[] = [];
    const deployment = {
      config: { aegis: { registry: 'ghcr.io/100monkeys-ai', readyTimeoutSeconds: 1 } },
      podman: async (args: string[]) => {
        commands.push(`podman ${args.join(' ')}`);
        if (args[0] === 'pod' && args[1] === 'inspect') throw new Error('no such pod');
        return { stdout: '', stderr: '' };
      },
      make: async (target: string, variables: Record<string, string> = {}) => {
        commands.push(['make', target, ...Object.entries(variables).map(([k, v]) => `${k}=${v}`)].join(' '));
        if (failLogin && target === 'registry-login') throw new Error('make registry-login failed');
        return { stdout: '', stderr: '' };
      },
    } as unknown as Deployment;
    return { deployment, commands };
  }
  const input = { pod: 'core' as const, tag: '1.3.0', notBefore: created };

  it('logs in, stops the running pod cleanly, then lets make redeploy replace it', async () => {
    const { deployment, commands } = recordingDeployment();

    await activityEnvironment().run(createPodActivities(deployment).redeployPod, input);

    expect(commands).toEqual([
      'podman pod inspect aegis-core',
      'make registry-login',
      'podman pod stop --ignore -t 30 aegis-core',
      'make redeploy POD=core',
    ]);
  });

  it('leaves the pod running when the registry refuses the login', async () => {
    const { deployment, commands } = recordingDeployment(true);

    await expect(activityEnvironment().run(createPodActivities(deployment).redeployPod, input)).rejects.toThrow(
      'make registry-login failed',
    );
    expect(commands).toEqual(['podman pod inspect aegis-core', 'make registry-login']);
  });
});

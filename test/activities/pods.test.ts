import { podProblem } from '../../src/activities/pods';

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

import fs from 'node:fs/promises';
import path from 'node:path';
import { CommandFailed } from '../../src/activities/errors';
import type { Deployment } from '../../src/activities/deployment';
import { startWriters, stopWriters } from '../../src/activities/writers';
import { DATABASE_WRITERS, MIGRATED_DATABASES, podFullName } from '../../src/platform';

const PODS = path.join(__dirname, '..', '..', 'sandbox', 'deploy', 'podman', 'pods');

/** Containers of the pods' YAML whose environment holds a URL to a migrated database. */
async function writersInPodYaml(): Promise<string[]> {
  const found: string[] = [];
  for (const pod of await fs.readdir(PODS)) {
    const yaml = await fs.readFile(path.join(PODS, pod, `pod-${pod}.yaml`), 'utf8');
    const podName = /^ {2}name: (\S+)$/m.exec(yaml)?.[1];
    let container: string | undefined;
    for (const line of yaml.split('\n')) {
      container = /^ {4}- name: (\S+)$/.exec(line)?.[1] ?? container;
      const url = /value: "?postgresql:\/\/[^"]*\/([A-Za-z0-9_]+)"?$/.exec(line);
      if (url && MIGRATED_DATABASES.includes(url[1] ?? '')) found.push(`${podName}-${container}`);
    }
  }
  return found.sort();
}

describe('the writers of the migrated databases', () => {
  it('are every container the pods give a URL to a migrated database', async () => {
    expect(await writersInPodYaml()).toEqual(DATABASE_WRITERS.map((writer) => writer.container).sort());
  });

  it('each belongs to its pod', () => {
    for (const { pod, container } of DATABASE_WRITERS) expect(container.startsWith(`${podFullName(pod)}-`)).toBe(true);
  });

  it("never include Temporal's own databases among those restored", () => {
    expect(MIGRATED_DATABASES).toContain('aegis');
    expect(MIGRATED_DATABASES).not.toContain('temporal');
    expect(MIGRATED_DATABASES).not.toContain('temporal_visibility');
  });
});

describe('stopWriters and startWriters', () => {
  const podman = jest.fn();
  const deployment = { podman } as unknown as Deployment;
  beforeEach(() => podman.mockReset().mockResolvedValue({ stdout: '', stderr: '' }));

  it('stops every writer in one call that ignores those absent or stopped', async () => {
    await stopWriters(deployment);

    expect(podman.mock.calls).toEqual([
      [['stop', '--ignore', '--time', '30', 'aegis-core-aegis-runtime', 'aegis-temporal-temporal-worker']],
    ]);
  });

  it('starts the writers that exist and skips one the profile does not run', async () => {
    podman.mockImplementation(async (args: string[]) => {
      if (args[0] === 'container' && args[2] === 'aegis-temporal-temporal-worker') {
        throw new CommandFailed(args.join(' '), 1, '');
      }
      return { stdout: '', stderr: '' };
    });

    expect(await startWriters(deployment)).toEqual(['aegis-core-aegis-runtime']);
    expect(podman.mock.calls.map(([args]) => args.join(' '))).toEqual([
      'container exists aegis-core-aegis-runtime',
      'start aegis-core-aegis-runtime',
      'container exists aegis-temporal-temporal-worker',
    ]);
  });

  it('fails when podman fails, rather than leaving a writer stopped without a word', async () => {
    podman.mockRejectedValueOnce(new CommandFailed('podman container exists aegis-core-aegis-runtime', 125, 'boom'));

    await expect(startWriters(deployment)).rejects.toThrow('boom');
  });
});

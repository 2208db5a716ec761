import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CommandFailed } from '../../src/core/errors';
import type { Deployment } from '../../src/host/deployment';
import { startWriters, stopWriters } from '../../src/activities/writers';
import { renderPodDefinition } from '../../src/host/pod-definitions';
import { DATABASE_WRITERS, MIGRATED_DATABASES, STOPPED_WRITERS_FILE, podFullName } from '../../src/core/platform';
import { SANDBOX_PODS, sandboxPodDefinition } from '../helpers/sandbox-pods';

/** The pod YAML's fields this test reads. */
interface PodSpec {
  metadata: { name: string };
  spec: { containers: { name: string; env?: { name: string; value?: unknown }[] }[] };
}

/** What `.env` gives the URLs' placeholders: only their path, the database, matters here. */
const VARIABLES = new Map([
  ['POSTGRES_USER', 'aegis'],
  ['POSTGRES_PASSWORD', 'secret'],
  ['AEGIS_DB_HOST', 'aegis-database'],
]);

/** Containers of the pods' YAML whose environment holds a URL to a migrated database. */
async function writersInPodYaml(): Promise<string[]> {
  const found: string[] = [];
  for (const pod of await fs.readdir(SANDBOX_PODS)) {
    const { document } = await sandboxPodDefinition(pod);
    const spec = document.toJS() as PodSpec;
    for (const container of spec.spec.containers) {
      const urls = (container.env ?? []).map(({ value }) => renderPodDefinition(String(value ?? ''), VARIABLES));
      const databases = urls
        .filter((url) => url.startsWith('postgresql://'))
        .map((url) => new URL(url).pathname.slice(1));
      if (databases.some((database) => MIGRATED_DATABASES.includes(database))) {
        found.push(`${spec.metadata.name}-${container.name}`);
      }
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
  let root: string;
  let deployment: Deployment;
  /** The containers podman has, by name: their IDs. */
  let containers: Record<string, string>;

  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'writers-'));
    deployment = { podman, root } as unknown as Deployment;
    containers = { 'aegis-core-aegis-runtime': 'id-runtime-1', 'aegis-temporal-temporal-worker': 'id-worker-1' };
    podman.mockReset().mockImplementation(async (args: string[]) => {
      if (args[0] !== 'ps') return { stdout: '', stderr: '' };
      // `podman ps --all --no-trunc --filter name=^<name>$ … --format '{{.Names}} {{.ID}}'`
      const asked = args.filter((arg) => arg.startsWith('name=^')).map((arg) => arg.slice('name=^'.length, -1));
      const lines = Object.entries(containers).filter(([name]) => asked.includes(name));
      return { stdout: lines.map(([name, id]) => `${name} ${id}\n`).join(''), stderr: '' };
    });
  });
  afterEach(() => fs.rm(root, { recursive: true, force: true }));

  const calls = () => podman.mock.calls.map(([args]: [string[]]) => args.join(' '));

  it('records the writers it stops, then stops them in one call that ignores those absent or stopped', async () => {
    await stopWriters(deployment);

    expect(calls().at(-1)).toBe('stop --ignore --time 30 aegis-core-aegis-runtime aegis-temporal-temporal-worker');
    expect(JSON.parse(await fs.readFile(path.join(root, STOPPED_WRITERS_FILE), 'utf8'))).toEqual([
      'id-runtime-1',
      'id-worker-1',
    ]);
    expect((await fs.stat(path.join(root, STOPPED_WRITERS_FILE))).mode & 0o777).toBe(0o600);
  });

  it('starts again the writers it stopped, not a container a redeploy created since (it crashed), and forgets them', async () => {
    await stopWriters(deployment);
    containers['aegis-core-aegis-runtime'] = 'id-runtime-2';
    podman.mockClear();

    expect(await startWriters(deployment)).toEqual(['aegis-temporal-temporal-worker']);
    expect(calls()).toContain('start aegis-temporal-temporal-worker');
    expect(calls()).not.toContain('start aegis-core-aegis-runtime');
    await expect(fs.access(path.join(root, STOPPED_WRITERS_FILE))).rejects.toThrow();
  });

  it('adds to what an earlier stop recorded: a restore stopping them again forgets none', async () => {
    await stopWriters(deployment);
    containers['aegis-core-aegis-runtime'] = 'id-runtime-2';
    await stopWriters(deployment);

    expect(JSON.parse(await fs.readFile(path.join(root, STOPPED_WRITERS_FILE), 'utf8'))).toEqual([
      'id-runtime-1',
      'id-worker-1',
      'id-runtime-2',
    ]);
  });

  it('without a record (an upgrade begun on an older worker), starts every writer that exists', async () => {
    delete containers['aegis-temporal-temporal-worker'];

    expect(await startWriters(deployment)).toEqual(['aegis-core-aegis-runtime']);
    // The writers are looked up in one call, then started in one.
    expect(calls()).toEqual([
      'ps --all --no-trunc --filter name=^aegis-core-aegis-runtime$ --filter name=^aegis-temporal-temporal-worker$ ' +
        '--format {{.Names}} {{.ID}}',
      'start aegis-core-aegis-runtime',
    ]);
  });

  it('for unlock: starts again only what an upgrade recorded; without a record, nothing (no upgrade stopped them)', async () => {
    expect(await startWriters(deployment, { recordedOnly: true })).toEqual([]);
    expect(calls()).toEqual([]);

    await stopWriters(deployment);
    expect(await startWriters(deployment, { recordedOnly: true })).toEqual([
      'aegis-core-aegis-runtime',
      'aegis-temporal-temporal-worker',
    ]);
    await expect(fs.access(path.join(root, STOPPED_WRITERS_FILE))).rejects.toThrow();
  });

  it('fails when podman fails, rather than leaving a writer stopped without a word', async () => {
    podman.mockRejectedValueOnce(new CommandFailed('podman ps --all', 125, 'boom'));

    await expect(startWriters(deployment)).rejects.toThrow('boom');
  });
});

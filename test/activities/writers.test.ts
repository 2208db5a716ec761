import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CommandFailed } from '../../src/core/errors';
import type { Deployment } from '../../src/host/deployment';
import { startWriters, stopWriters } from '../../src/activities/writers';
import { databaseWriters, parseConnectionUrl, type NamedPodDefinition } from '../../src/host/database-writers';
import { parsePodDefinition } from '../../src/host/pod-definitions';
import { DATABASE_WRITERS, MIGRATED_DATABASES, STOPPED_WRITERS_FILE, podFullName } from '../../src/core/platform';
import { SANDBOX_PODS, installSandboxPods, sandboxPodDefinition } from '../helpers/sandbox-pods';

/** What `.env` gives the URLs' placeholders (the sandbox's `env.template`). */
const VARIABLES = new Map([
  ['POSTGRES_USER', 'aegis'],
  ['POSTGRES_PASSWORD', 'secret'],
  ['AEGIS_DB_HOST', 'aegis-database'],
]);

async function sandboxPods(): Promise<NamedPodDefinition[]> {
  const pods = (await fs.readdir(SANDBOX_PODS)).sort();
  return Promise.all(pods.map(async (pod) => ({ pod, definition: await sandboxPodDefinition(pod) })));
}

describe('the writers of the migrated databases', () => {
  it("are read from the sandbox's pods: every container given a URL to a migrated database", async () => {
    expect(databaseWriters(await sandboxPods(), VARIABLES, MIGRATED_DATABASES)).toEqual([
      { pod: 'core', container: 'aegis-core-aegis-runtime', why: 'AEGIS_DATABASE_URL names aegis on port 5433' },
      { pod: 'temporal', container: 'aegis-temporal-temporal-worker', why: 'DATABASE_URL names aegis on port 5433' },
    ]);
  });

  it('are those DATABASE_WRITERS names for the manual steps, each in its pod; PgBouncer, which they go through, is none', async () => {
    const read = databaseWriters(await sandboxPods(), VARIABLES, MIGRATED_DATABASES);
    expect(read.map(({ pod, container }) => ({ pod, container }))).toEqual(DATABASE_WRITERS);
    for (const { pod, container } of DATABASE_WRITERS) expect(container.startsWith(`${podFullName(pod)}-`)).toBe(true);
  });

  it("never include Temporal's own databases among those restored", () => {
    expect(MIGRATED_DATABASES).toContain('aegis');
    expect(MIGRATED_DATABASES).not.toContain('temporal');
    expect(MIGRATED_DATABASES).not.toContain('temporal_visibility');
  });
});

describe('databaseWriters on definitions written for the rule', () => {
  const pod = (name: string, containers: string) =>
    parsePodDefinition(`metadata:\n  name: aegis-${name}\nspec:\n  containers:\n${containers}`, `pod-${name}.yaml`);
  const database = pod(
    'database',
    [
      '    - {name: postgres, image: docker.io/postgres:15, ports: [{containerPort: 5432}]}',
      '    - name: exporter',
      '      image: exporter:1',
      '      env: [{name: DATA_SOURCE_NAME, value: "postgresql://u:p@localhost:5432/aegis"}]',
      '    - name: bouncer',
      '      image: pgbouncer:latest',
      '      env: [{name: DATABASE_URLS, value: "postgresql://u:p@127.0.0.1:5432/aegis,postgres://u:p@[::1]/other"}]',
      '      ports: [{containerPort: 6432, hostPort: 6432}]',
      '',
    ].join('\n'),
  );
  const client = (url: string) =>
    pod('core', `    - name: runtime\n      env:\n        - name: URL\n          value: "${url}"\n`);

  it('a client through the bouncer is a writer, the bouncer none; loopback clients of the database pod are none', () => {
    const writers = databaseWriters(
      [
        { pod: 'core', definition: client('postgresql://u:p@${DB}:6432/aegis?sslmode=disable') },
        { pod: 'database', definition: database },
      ],
      new Map([['DB', 'db.example']]),
      ['aegis'],
    );
    expect(writers.map((writer) => writer.container)).toEqual(['aegis-core-runtime']);
  });

  it('a host left empty by an unset variable still counts; another database does not', () => {
    const pods = (url: string) => [
      { pod: 'core', definition: client(url) },
      { pod: 'database', definition: database },
    ];
    const names = (url: string, databases = ['aegis']) =>
      databaseWriters(pods(url), new Map(), databases).map((writer) => writer.container);
    expect(names('postgresql://u:p@${UNSET}:6432/aegis')).toEqual(['aegis-core-runtime']);
    expect(names('postgresql://u:p@db:6432/other')).toEqual([]);
    expect(names('postgresql://u:p@db/aegis')).toEqual(['aegis-core-runtime']);
  });

  it('reads user, password, host, port and database of a URL, a password with / and brackets around IPv6', () => {
    expect(parseConnectionUrl('postgresql://u:p/x@db.example:6543/aegis?sslmode=disable')).toEqual({
      host: 'db.example',
      port: 6543,
      database: 'aegis',
    });
    expect(parseConnectionUrl('postgres://[fd00::1]/my%20db')).toEqual({
      host: '[fd00::1]',
      port: 5432,
      database: 'my db',
    });
    expect(parseConnectionUrl('mysql://db/aegis')).toBeUndefined();
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
    installSandboxPods(root);
    deployment = { podman, root, env: async () => VARIABLES } as unknown as Deployment;
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

  it('refuses to stop nothing: a checkout whose pods give no writer a URL is an error, and so is an unreadable pod file', async () => {
    await fs.writeFile(path.join(root, 'podman', 'pods', 'core', 'pod-core.yaml'), 'spec:\n  containers: []\n');
    await fs.writeFile(path.join(root, 'podman', 'pods', 'temporal', 'pod-temporal.yaml'), 'spec:\n  containers: []\n');
    await expect(stopWriters(deployment)).rejects.toThrow('Found no container writing to aegis in the pod definitions');
    await fs.writeFile(path.join(root, 'podman', 'pods', 'core', 'pod-core.yaml'), 'spec: [x\n');
    const unreadable = stopWriters(deployment);
    await expect(unreadable).rejects.toThrow('pod-core.yaml is not valid YAML');
    await expect(unreadable).rejects.not.toHaveProperty('name', 'PreflightFailed');
    expect(calls()).toEqual([]);
  });

  it('fails when podman fails, rather than leaving a writer stopped without a word', async () => {
    podman.mockRejectedValueOnce(new CommandFailed('podman ps --all', 125, 'boom'));

    await expect(startWriters(deployment)).rejects.toThrow('boom');
  });
});

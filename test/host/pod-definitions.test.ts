import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { platformTemporalAddress } from '../../src/activities/component-preflight';
import {
  componentImageTag,
  databaseClusterStorage,
  databaseDataDirectory,
  databaseDataVolume,
  withComponentImageTag,
  withDatabaseClusterStorage,
  withDatabaseDataDirectory,
} from '../../src/activities/component-tags';
import { podYamlPath } from '../../src/host/deployment';
import {
  containerImages,
  parsePodDefinition,
  podsUnchangedByTag,
  publishedPort,
  readPodDefinition,
  renderPodDefinition,
} from '../../src/host/pod-definitions';
import { ROLLING_ORDER } from '../../src/core/platform';
import { deployReference } from '../helpers/deploy-reference';
import { REPO_ROOT } from '../helpers/repo';

describe('renderPodDefinition', () => {
  const variables = new Map([
    ['AEGIS_IMAGE_TAG', '1.3.0'],
    ['POSTGRES_USER', 'aegis'],
  ]);

  it('replaces $NAME and ${NAME} as envsubst does, an unset name by nothing', () => {
    expect(renderPodDefinition('image: runtime:${AEGIS_IMAGE_TAG} user=$POSTGRES_USER x=${UNSET}.', variables)).toBe(
      'image: runtime:1.3.0 user=aegis x=.',
    );
  });

  it('leaves what envsubst leaves: a default expression, a lone $, a $ before a digit', () => {
    const text = 'a=${AEGIS_IMAGE_TAG:-x} b=$ c=$1';
    expect(renderPodDefinition(text, variables)).toBe(text);
  });
});

describe('podsUnchangedByTag on the sandbox deploy checkout (the pods of aegis-deploy)', () => {
  let root: string;

  beforeAll(async () => {
    // The checkout's pod YAML as `sandbox.sh` installs it: only the pods directory matters here.
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'pod-definitions-'));
    await fs.cp(path.join(REPO_ROOT, 'sandbox', 'deploy', 'podman'), path.join(root, 'podman'), { recursive: true });
  });

  afterAll(() => fs.rm(root, { recursive: true, force: true }));

  it('finds database and observability unchanged by a new tag, the pods running AEGIS images changed', async () => {
    const env = new Map([['AEGIS_IMAGE_TAG', '1.2.0']]);
    expect(await podsUnchangedByTag(root, [...ROLLING_ORDER], env, '1.3.0')).toEqual(['database', 'observability']);
  });

  it('counts a pod whose definition names the tag anywhere as changed', async () => {
    const file = podYamlPath(root, 'observability');
    const original = await fs.readFile(file, 'utf8');
    await fs.writeFile(file, `${original}\n# release \${AEGIS_IMAGE_TAG}\n`);
    try {
      const env = new Map([['AEGIS_IMAGE_TAG', '1.2.0']]);
      expect(await podsUnchangedByTag(root, ['database', 'observability'], env, '1.3.0')).toEqual(['database']);
    } finally {
      await fs.writeFile(file, original);
    }
  });

  it('counts a pod whose YAML cannot be read as changed: its redeploy says what is wrong', async () => {
    const env = new Map([['AEGIS_IMAGE_TAG', '1.2.0']]);
    await fs.rename(podYamlPath(root, 'database'), `${podYamlPath(root, 'database')}.gone`);
    try {
      expect(await podsUnchangedByTag(root, ['database'], env, '1.3.0')).toEqual([]);
    } finally {
      await fs.rename(`${podYamlPath(root, 'database')}.gone`, podYamlPath(root, 'database'));
    }
  });
});

/** Every order of `lines` (a map's keys as a file may write them). */
function orders(lines: readonly string[]): string[][] {
  if (lines.length <= 1) return [[...lines]];
  return lines.flatMap((line, index) =>
    orders([...lines.slice(0, index), ...lines.slice(index + 1)]).map((rest) => [line, ...rest]),
  );
}

/** A sequence item of `keys`, at `indent`, its keys in the order given: `- a: 1` then `  b: 2`. */
const item = (indent: string, keys: readonly string[]) =>
  keys.map((key, index) => `${indent}${index === 0 ? '- ' : '  '}${key}`).join('\n');

describe('a pod definition read and edited in any key order', () => {
  /** A database pod, every map's keys in the order given. */
  const databasePod = (container: string[], mount: string[], volume: string[]) =>
    [
      '# the data lives on the host',
      'spec:',
      '  containers:',
      item('    ', container),
      '      volumeMounts:',
      item('        ', mount),
      '  volumes:',
      item('    ', volume),
      '',
    ].join('\n');
  const containerKeys = ['name: postgres', 'image: "docker.io/library/postgres:15-alpine"  # pinned'];
  const mountKeys = ['name: postgres-data', 'mountPath: /var/lib/postgresql/data'];
  const hostPath = (keys: readonly string[]) => ['hostPath:', ...keys.map((key) => `        ${key}`)].join('\n');
  const volumeKeys = (hostPathKeys: readonly string[]) => ['name: postgres-data', hostPath(hostPathKeys)];
  const hostPathKeys = ['type: DirectoryOrCreate', 'path: "/srv/pg"'];
  /** `mountPath name`: the keys of a map in the order written. */
  const keyOrder = (keys: readonly string[]) => keys.map((key) => key.split(':', 1)[0]).join(' ');
  const layouts = orders(mountKeys).flatMap((mount) =>
    orders(hostPathKeys).flatMap((keys) =>
      orders(volumeKeys(keys)).map((volume) => ({
        mount,
        volume,
        order: `volumeMounts: ${keyOrder(mount)}; volumes: ${keyOrder(volume)}; hostPath: ${keyOrder(keys)}`,
      })),
    ),
  );

  test.each(layouts)('the data directory, keys in the order $order', ({ mount, volume }) => {
    const text = databasePod(containerKeys, mount, volume);
    const definition = parsePodDefinition(text, 'pod-database.yaml');
    expect(databaseDataDirectory(definition)).toBe('/srv/pg');
    const edited = withDatabaseDataDirectory(definition, '/srv/pg-16');
    expect(databaseDataDirectory(parsePodDefinition(edited, 'pod-database.yaml'))).toBe('/srv/pg-16');
    expect(edited).toBe(text.replace('path: "/srv/pg"', 'path: "/srv/pg-16"'));
  });

  test.each(orders(containerKeys).map((container) => ({ container, order: keyOrder(container) })))(
    'the postgres tag, the container’s keys in the order $order',
    ({ container }) => {
      const text = databasePod(container, mountKeys, volumeKeys(hostPathKeys));
      const definition = parsePodDefinition(text, 'pod-database.yaml');
      expect(componentImageTag(definition, 'database')).toBe('15-alpine');
      expect(withComponentImageTag(definition, 'database', '16-alpine')).toBe(
        text.replace('postgres:15-alpine"', 'postgres:16-alpine"'),
      );
    },
  );

  test('the published port with hostPort first, protocol between, hostIP anywhere', () => {
    const ports = [['containerPort: 7233', 'protocol: TCP', 'hostPort: 17233', 'hostIP: 127.0.0.1']];
    for (const keys of orders(ports[0] ?? [])) {
      const text = ['spec:', '  containers:', '    - name: temporal', '      ports:', item('        ', keys), ''];
      const definition = parsePodDefinition(text.join('\n'), 'pod-temporal.yaml');
      expect(publishedPort(definition, 7233)).toEqual({ hostPort: 17233, hostIP: '127.0.0.1' });
      expect(platformTemporalAddress(definition)).toBe('127.0.0.1:17233');
    }
  });

  test('a UDP port, an unpublished one and one published on every address', () => {
    const pod = (...lines: string[]) =>
      parsePodDefinition(['spec:', '  containers:', '    - ports:', ...lines, ''].join('\n'), 'pod-temporal.yaml');
    expect(publishedPort(pod('        - {containerPort: 7233, hostPort: 7233, protocol: UDP}'), 7233)).toBeUndefined();
    expect(publishedPort(pod('        - containerPort: 7233'), 7233)).toBeUndefined();
    expect(() => platformTemporalAddress(pod('        - containerPort: 7233'))).toThrow(
      "publishes no host port for Temporal's frontend",
    );
    expect(platformTemporalAddress(pod('        - {hostIP: "::", hostPort: "7233", containerPort: 7233}'))).toBe(
      '127.0.0.1:7233',
    );
    expect(platformTemporalAddress(pod('        - {hostIP: "fd00::2", hostPort: 7233, containerPort: 7233}'))).toBe(
      '[fd00::2]:7233',
    );
  });

  test('a cluster in no volume, or in one of another kind, is said as such', () => {
    const emptyDir = parsePodDefinition(
      databasePod(containerKeys, mountKeys, ['name: postgres-data', 'emptyDir: {}']),
      'pod-database.yaml',
    );
    expect(databaseDataVolume(emptyDir)).toEqual({ kind: 'other', volume: 'postgres-data', source: 'emptyDir' });
    expect(() => databaseDataDirectory(emptyDir)).toThrow('in volume postgres-data (emptyDir), not a host directory');
    const unmounted = parsePodDefinition('spec:\n  containers:\n    - name: postgres\n', 'pod-database.yaml');
    expect(databaseDataVolume(unmounted)).toEqual({ kind: 'none' });
    expect(() => withDatabaseDataDirectory(unmounted, '/srv/pg-16')).toThrow('in no volume (none is mounted there)');
  });

  test('a file of several documents is read for its Pod, and an edit keeps the others byte for byte', () => {
    const configMap = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: pg-conf\ndata:\n  image: "not:this"\n';
    const pod = databasePod(containerKeys, mountKeys, volumeKeys(hostPathKeys)).replace('spec:', 'kind: Pod\nspec:');
    const text = `${configMap}---\n${pod}`;
    const definition = parsePodDefinition(text, 'pod-database.yaml');
    expect(componentImageTag(definition, 'database')).toBe('15-alpine');
    expect(databaseDataDirectory(definition)).toBe('/srv/pg');
    expect(withDatabaseDataDirectory(definition, '/srv/pg-16')).toBe(text.replace('"/srv/pg"', '"/srv/pg-16"'));
    expect(() => parsePodDefinition(`${pod}---\n${pod}`, 'pod-database.yaml')).toThrow(
      'pod-database.yaml defines 2 pods (kind: Pod): one pod per file',
    );
    expect(() => parsePodDefinition('', 'pod-database.yaml')).toThrow('holds no YAML document');
  });

  test('a file that is not YAML is refused, naming it and the line', () => {
    expect(() => parsePodDefinition('spec:\n  containers:\n    - image: [x\n', '/srv/aegis/pod-core.yaml')).toThrow(
      /^\/srv\/aegis\/pod-core\.yaml is not valid YAML \(.*line \d+/,
    );
  });
});

const reference = deployReference();

(reference ? describe : describe.skip)(
  'the real deploy checkout’s pod definitions (aegis-deploy, read in place)',
  () => {
    const root = reference ?? '';
    const pods = ['core', 'database', 'edge', 'observability', 'seal-gateway', 'secrets', 'storage', 'temporal'];

    test('each parses with its ${VAR} placeholders, and names its images', async () => {
      for (const pod of pods) {
        const definition = await readPodDefinition(root, pod);
        expect(containerImages(definition).length).toBeGreaterThan(0);
      }
      const core = await readPodDefinition(root, 'core');
      expect(containerImages(core)[0]).toMatchObject({
        name: 'ghcr.io/100monkeys-ai/aegis-runtime',
        tag: '${AEGIS_IMAGE_TAG}',
      });
    });

    test('the database pod keeps its cluster in a named volume: read as such, and pointed at another by its claim alone', async () => {
      const database = await readPodDefinition(root, 'database');
      expect(componentImageTag(database, 'database')).toBe('15-alpine');
      expect(databaseDataVolume(database)).toMatchObject({
        kind: 'named-volume',
        volume: 'postgres-data',
        claimName: 'aegis-postgres-data',
      });
      expect(databaseClusterStorage(database)).toEqual({ volume: 'aegis-postgres-data' });
      const edited = withDatabaseClusterStorage(database, { volume: 'aegis-postgres-data-16' });
      expect(edited).toBe(database.text.replace('claimName: aegis-postgres-data', 'claimName: aegis-postgres-data-16'));
      expect(databaseClusterStorage(parsePodDefinition(edited, database.file))).toEqual({
        volume: 'aegis-postgres-data-16',
      });
      // The host-directory reader of before says why it cannot answer.
      expect(() => databaseDataDirectory(database)).toThrow(
        'keeps the cluster (/var/lib/postgresql/data) in the named volume aegis-postgres-data (persistentVolumeClaim of volume postgres-data), not a host directory',
      );
    });

    test('the temporal pod: its auto-setup tag and the port its frontend is published on', async () => {
      const temporal = await readPodDefinition(root, 'temporal', new Map([['AEGIS_ROOT', '/srv/aegis']]));
      expect(componentImageTag(temporal, 'temporal')).toBe('1.23.0');
      expect(platformTemporalAddress(temporal)).toBe('127.0.0.1:7233');
    });
  },
);

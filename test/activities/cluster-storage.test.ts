/**
 * A major PostgreSQL upgrade on either kind of storage the database pod may keep its cluster in: a host directory (the
 * sandbox) or a named volume (the real platform). The YAML edit, the fresh storage, the activities' podman calls, the
 * disk check's place, and the rollback's plan, without podman or PostgreSQL.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ComponentPreflight } from '../../src/activities/component-preflight';
import {
  checkClusterStorage,
  createComponentTagActivities,
  databaseClusterStorage,
  withDatabaseClusterStorage,
} from '../../src/activities/component-tags';
import { createPostgresMajorActivities, type ClusterDump } from '../../src/activities/postgres-major';
import {
  describeClusterStorage,
  freshClusterStorage,
  sameClusterStorage,
  type ClusterStorage,
} from '../../src/core/cluster-storage';
import type { Deployment } from '../../src/host/deployment';
import { parsePodDefinition } from '../../src/host/pod-definitions';
import { newClusterHome } from '../../src/host/postgres-major-checks';
import {
  majorUpgradeStorage,
  manualComponentRollbackSteps,
  noComponentChanges,
  planComponentRollback,
} from '../../src/workflows/component-rollback';
import { STRATEGIES } from '../../src/workflows/component-steps';
import { hostDirectoryDatabasePod } from '../helpers/sandbox-pods';

/** A database pod keeping its cluster in the named volume `claim`, written as the real checkout writes it. */
const namedVolumePod = (claim: string) =>
  [
    '# the cluster in a named volume',
    'apiVersion: v1',
    'kind: Pod',
    'metadata:',
    '  name: aegis-database',
    'spec:',
    '  containers:',
    '    - name: postgres',
    '      image: docker.io/postgres:15-alpine',
    '      volumeMounts:',
    '        - name: postgres-data',
    '          mountPath: /var/lib/postgresql/data',
    '    - name: pgbouncer',
    '      image: docker.io/edoburu/pgbouncer:latest',
    '  volumes:',
    '    - name: postgres-data',
    '      persistentVolumeClaim:',
    `        claimName: ${claim}`,
    '    - name: init-scripts',
    '      hostPath:',
    '        path: ./scripts/init-multiple-dbs.sh',
    '        type: File',
    '',
  ].join('\n');

describe('the cluster storage, of either kind', () => {
  test('the fresh storage beside the old one is of its kind, named after the new major', () => {
    expect(freshClusterStorage({ volume: 'aegis-postgres-data' }, '16')).toEqual({ volume: 'aegis-postgres-data-16' });
    expect(freshClusterStorage({ directory: '/srv/pgdata' }, '16')).toEqual({ directory: '/srv/pgdata-16' });
    expect(sameClusterStorage({ volume: 'x' }, { directory: 'x' })).toBe(false);
    expect(describeClusterStorage({ volume: 'x' })).toBe('named volume x');
    expect(describeClusterStorage({ directory: '/x' })).toBe('directory /x');
  });

  test('a named volume’s claim is edited alone, every other byte kept; a change of kind is refused', () => {
    const definition = parsePodDefinition(namedVolumePod('aegis-postgres-data'), 'pod-database.yaml');
    expect(databaseClusterStorage(definition)).toEqual({ volume: 'aegis-postgres-data' });
    expect(withDatabaseClusterStorage(definition, { volume: 'aegis-postgres-data-16' })).toBe(
      namedVolumePod('aegis-postgres-data-16'),
    );
    expect(() => withDatabaseClusterStorage(definition, { directory: '/srv/pg-16' })).toThrow(
      'keeps the cluster in the named volume aegis-postgres-data: one edit cannot point it at the directory /srv/pg-16',
    );
  });

  test('a host directory, as before', async () => {
    const definition = await hostDirectoryDatabasePod();
    expect(databaseClusterStorage(definition)).toEqual({ directory: '/srv/sandbox/pgdata' });
    const edited = withDatabaseClusterStorage(definition, { directory: '/srv/sandbox/pgdata-16' });
    expect(edited).toBe(definition.text.replace('path: /srv/sandbox/pgdata', 'path: /srv/sandbox/pgdata-16'));
  });

  test('what an activity is given is checked as it will be written', () => {
    expect(checkClusterStorage({ volume: 'aegis-postgres-data-16' })).toEqual({ volume: 'aegis-postgres-data-16' });
    expect(checkClusterStorage({ directory: '/srv//pg-16' })).toEqual({ directory: '/srv/pg-16' });
    expect(() => checkClusterStorage({ volume: '-v /:/host' })).toThrow('Expected `volume` to be a volume name');
    expect(() => checkClusterStorage({ volume: 'a b' })).toThrow('Expected `volume` to be a volume name');
    expect(() => checkClusterStorage({})).toThrow('Expected `directory` to be an absolute path');
  });
});

describe('the activities on a named volume', () => {
  let root: string;
  let file: string;
  let podmanCalls: string[];
  /** The volumes podman has. */
  let volumes: Set<string>;
  let deployment: Deployment;

  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'cluster-storage-'));
    file = path.join(root, 'podman', 'pods', 'database', 'pod-database.yaml');
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, namedVolumePod('aegis-postgres-data'));
    podmanCalls = [];
    volumes = new Set(['aegis-postgres-data']);
    const podman = async (args: readonly string[]) => {
      podmanCalls.push(args.join(' '));
      const [, verb, name = ''] = args;
      if (args[0] === 'volume' && verb === 'exists' && !volumes.has(name)) throw new Error(`no volume ${name}`);
      if (args[0] === 'volume' && verb === 'create') volumes.add(name);
      if (args[0] === 'volume' && verb === 'rm') volumes.delete(name);
      if (args[0] === 'volume' && verb === 'inspect') {
        return { stdout: `/home/aegis/.local/share/containers/storage/volumes/${args.at(-1)}/_data\n`, stderr: '' };
      }
      return { stdout: '', stderr: '' };
    };
    deployment = {
      root,
      podman,
      config: { aegis: { backupDir: path.join(root, 'backups') } },
      env: async () => new Map([['POSTGRES_USER', 'aegis']]),
    } as unknown as Deployment;
  });
  afterEach(() => fs.rm(root, { recursive: true, force: true }));

  test('prepare creates the fresh volume; one an earlier attempt left is removed (no --force) and created again', async () => {
    const major = createPostgresMajorActivities(deployment);
    const fresh = { volume: 'aegis-postgres-data-16', keep: 'aegis-postgres-data' };
    expect(await major.prepareDataDirectory(fresh)).toBe('named volume aegis-postgres-data-16 created');
    expect(await major.prepareDataDirectory(fresh)).toBe(
      'named volume aegis-postgres-data-16 created again (an earlier attempt left one)',
    );
    expect(podmanCalls).toEqual([
      'volume exists aegis-postgres-data-16',
      'volume create aegis-postgres-data-16',
      'volume exists aegis-postgres-data-16',
      'volume rm aegis-postgres-data-16',
      'volume create aegis-postgres-data-16',
    ]);
    // The old volume is never touched.
    expect(podmanCalls.filter((call) => call.endsWith(' aegis-postgres-data'))).toEqual([]);
  });

  test('prepare refuses the volume the pod names, and the one to keep: they hold the old cluster', async () => {
    const major = createPostgresMajorActivities(deployment);
    await expect(
      major.prepareDataDirectory({ volume: 'aegis-postgres-data', keep: 'aegis-postgres-data-old' }),
    ).rejects.toThrow('Expected `volume` to be a fresh sibling of aegis-postgres-data-old');
    await expect(
      major.prepareDataDirectory({ volume: 'aegis-postgres-data-16', keep: 'aegis-postgres-data-16' }),
    ).rejects.toThrow('not the cluster pod-database.yaml names');
    expect(podmanCalls).toEqual([]);
  });

  test('the restore refuses a pod that does not name the fresh volume: never into the old one', async () => {
    const major = createPostgresMajorActivities(deployment);
    const dump: ClusterDump = {
      location: path.join(root, 'backups', '20261207T010000Z-postgres-15.8-to-16'),
      file: { name: 'cluster.sql', bytes: 1, sha256: '0'.repeat(64) },
      takenAt: '2026-12-07T01:00:00Z',
      summary: '3 databases',
    };
    await fs.mkdir(dump.location, { recursive: true });
    await expect(major.restoreCluster({ dump, volume: 'aegis-postgres-data-16' })).rejects.toThrow(
      'pod-database.yaml does not name aegis-postgres-data-16: the restore goes into the new cluster only',
    );
  });

  test('setDatabaseDataDirectory points the claim at the new volume and back, returning the one it named', async () => {
    const tags = createComponentTagActivities(deployment);
    expect(await tags.setDatabaseDataDirectory({ volume: 'aegis-postgres-data-16' })).toBe('aegis-postgres-data');
    expect(await fs.readFile(file, 'utf8')).toBe(namedVolumePod('aegis-postgres-data-16'));
    expect(await tags.setDatabaseDataDirectory({ volume: 'aegis-postgres-data' })).toBe('aegis-postgres-data-16');
    expect(await fs.readFile(file, 'utf8')).toBe(namedVolumePod('aegis-postgres-data'));
    await expect(tags.setDatabaseDataDirectory({ directory: '/srv/pg-16' })).rejects.toThrow('another kind of storage');
  });

  test('the disk check measures where podman keeps the volumes, beside the old one', async () => {
    const home = await newClusterHome(deployment, {
      dataStorage: { volume: 'aegis-postgres-data' },
      newDataStorage: { volume: 'aegis-postgres-data-16' },
    });
    expect(home).toBe('/home/aegis/.local/share/containers/storage/volumes');
    expect(podmanCalls).toEqual(['volume inspect --format {{.Mountpoint}} aegis-postgres-data']);
    expect(await newClusterHome(deployment, { newDataDirectory: '/srv/pgdata-16' })).toBe('/srv');
  });
});

describe('the major upgrade’s plan and rollback, by storage', () => {
  const preflight = (storage: Partial<ComponentPreflight>): ComponentPreflight => ({
    plan: {
      component: 'postgres',
      strategy: 'postgres-major',
      fromVersion: '15.8',
      toVersion: '16',
      alreadyAtTarget: false,
    } as ComponentPreflight['plan'],
    currentTag: '15-alpine',
    targetTag: '16-alpine',
    aegisTag: '1.2.0',
    checks: [],
    ...storage,
  });
  const onVolume = preflight({
    dataStorage: { volume: 'aegis-postgres-data' },
    newDataStorage: { volume: 'aegis-postgres-data-16' },
  });

  test('its steps name the fresh volume', () => {
    const titles = STRATEGIES['postgres-major'].steps(onVolume).map((step) => step.title);
    expect(titles).toContain("Prepare the new cluster's named volume aegis-postgres-data-16");
    expect(titles).toContain('Set the postgres image to 16-alpine and its data to aegis-postgres-data-16');
  });

  test('the rollback names the old volume again, by hand too', () => {
    const changes = {
      ...noComponentChanges(onVolume),
      definitionChanged: true,
      redeployed: true,
      clientsStopped: true,
    };
    expect(changes.dataStorage).toEqual({ volume: 'aegis-postgres-data' });
    expect(planComponentRollback(changes).map((step) => step.title)).toContain(
      'Set the database image back to 15-alpine and the data named volume aegis-postgres-data in pod-database.yaml',
    );
    expect(manualComponentRollbackSteps(changes, [])).toContain(
      'edit podman/pods/database/pod-database.yaml: set the database image back to 15-alpine and the data named volume aegis-postgres-data',
    );
  });

  test('a pre-flight of before named volumes (a replayed upgrade) reads as host directories', () => {
    const legacy = preflight({ dataDirectory: '/srv/pgdata', newDataDirectory: '/srv/pgdata-16' });
    const expected: { current: ClusterStorage; fresh: ClusterStorage } = {
      current: { directory: '/srv/pgdata' },
      fresh: { directory: '/srv/pgdata-16' },
    };
    expect(majorUpgradeStorage(legacy)).toEqual(expected);
    expect(noComponentChanges(legacy).dataStorage).toEqual({ directory: '/srv/pgdata' });
    expect(STRATEGIES['postgres-major'].steps(legacy).map((step) => step.title)).toContain(
      "Prepare the new cluster's directory /srv/pgdata-16",
    );
  });
});

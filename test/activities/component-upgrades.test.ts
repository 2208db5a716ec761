import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  componentImageTag,
  createComponentTagActivities,
  databaseDataDirectory,
  postgresImageTag,
  withComponentImageTag,
  withDatabaseDataDirectory,
} from '../../src/activities/component-tags';
import { namesPostgresVersion } from '../../src/activities/component-versions';
import type { Deployment } from '../../src/host/deployment';
import { parsePodDefinition } from '../../src/host/pod-definitions';
import { restoreLine } from '../../src/activities/postgres-major';
import { fingerprintDifferences, type ClusterFingerprint } from '../../src/host/table-checksums';
import {
  hostDirectoryDatabasePod,
  hostDirectoryDatabasePodText,
  sandboxPodDefinition as sandboxDefinition,
} from '../helpers/sandbox-pods';

const changedLines = (before: string, after: string) =>
  after.split('\n').filter((line, index) => line !== before.split('\n')[index]);

describe('the component lines of the pods’ YAML', () => {
  test('the database pod (its data in a host directory): its postgres tag and its data directory, each changed alone', async () => {
    const definition = await hostDirectoryDatabasePod();
    expect(componentImageTag(definition, 'database')).toBe('15-alpine');
    expect(databaseDataDirectory(definition)).toBe('/srv/sandbox/pgdata');
    const tagged = parsePodDefinition(withComponentImageTag(definition, 'database', '16-alpine'), definition.file);
    const changed = parsePodDefinition(withDatabaseDataDirectory(tagged, '/srv/pg-16'), definition.file);
    expect(componentImageTag(changed, 'database')).toBe('16-alpine');
    expect(databaseDataDirectory(changed)).toBe('/srv/pg-16');
    expect(changedLines(definition.text, changed.text)).toEqual([
      '      image: "127.0.0.1:5000/library/postgres:16-alpine"',
      '        path: /srv/pg-16',
    ]);
  });

  test('the temporal pod: the auto-setup tag only, not the UI or the AEGIS worker', async () => {
    const definition = await sandboxDefinition('temporal');
    expect(componentImageTag(definition, 'temporal')).toBe('1.23.0');
    const changed = withComponentImageTag(definition, 'temporal', '1.24.0');
    expect(changedLines(definition.text, changed)).toEqual([
      '      image: "127.0.0.1:5000/temporalio/auto-setup:1.24.0"',
    ]);
  });

  test('a new PostgreSQL version keeps the variant of the image running', () => {
    expect(postgresImageTag('15-alpine', '16')).toBe('16-alpine');
    expect(postgresImageTag('15.6-alpine', '15.8')).toBe('15.8-alpine');
    expect(postgresImageTag('15', '16.2')).toBe('16.2');
  });

  test('setComponentImageTag returns the previous tag; again with the same tag changes nothing', async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'component-tags-'));
    const file = path.join(root, 'podman', 'pods', 'database', 'pod-database.yaml');
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, await hostDirectoryDatabasePodText());
    const tags = createComponentTagActivities({ root } as Deployment);
    expect(await tags.setComponentImageTag({ pod: 'database', tag: '16-alpine' })).toBe('15-alpine');
    expect(await tags.setComponentImageTag({ pod: 'database', tag: '16-alpine' })).toBe('16-alpine');
    expect(await tags.setDatabaseDataDirectory({ directory: '/srv/pg-16' })).toBe('/srv/sandbox/pgdata');
    await expect(tags.setDatabaseDataDirectory({ directory: '/srv/pg 16; rm -rf /' })).rejects.toThrow(
      'Expected `directory` to be an absolute path',
    );
    expect(databaseDataDirectory(parsePodDefinition(await fs.readFile(file, 'utf8'), file))).toBe('/srv/pg-16');
    await fs.rm(root, { recursive: true, force: true });
  });
});

test('select version() names the target: a major any of its minors, a minor exactly', () => {
  const text = 'PostgreSQL 16.2 on x86_64-pc-linux-gnu, compiled by gcc';
  expect(namesPostgresVersion(text, '16')).toBe(true);
  expect(namesPostgresVersion(text, '16.2')).toBe(true);
  expect(namesPostgresVersion(text, '16.20')).toBe(false);
  expect(namesPostgresVersion(text, '15')).toBe(false);
  expect(namesPostgresVersion('PostgreSQL 1.6', '1')).toBe(true);
});

test('the restore script: every role created if absent, the restrict meta-commands left out', () => {
  expect(restoreLine('CREATE ROLE aegis;')).toBe(
    'DO $$BEGIN CREATE ROLE aegis; EXCEPTION WHEN duplicate_object THEN NULL; END$$;',
  );
  expect(restoreLine('\\restrict AbC123')).toBeUndefined();
  expect(restoreLine('\\unrestrict AbC123')).toBeUndefined();
  expect(restoreLine('ALTER ROLE aegis WITH SUPERUSER;')).toBe('ALTER ROLE aegis WITH SUPERUSER;');
});

describe('fingerprintDifferences', () => {
  const before: ClusterFingerprint = {
    roles: ['aegis', 'reader'],
    databases: [
      { name: 'aegis', tables: [{ name: 'public.agents', rows: 2, md5: 'a' }] },
      { name: 'temporal', tables: [{ name: 'public.executions', rows: 5, md5: 'b' }] },
    ],
  };

  test('an identical copy has none', () => {
    expect(fingerprintDifferences(before, structuredClone(before))).toEqual([]);
  });

  test('names each missing role, database or table, and each table whose rows or content differ', () => {
    const after: ClusterFingerprint = {
      roles: ['aegis'],
      databases: [
        {
          name: 'aegis',
          tables: [
            { name: 'public.agents', rows: 2, md5: 'changed' },
            { name: 'public.extra', rows: 0, md5: '' },
          ],
        },
      ],
    };
    expect(fingerprintDifferences(before, after)).toEqual([
      'role reader is missing from the new cluster',
      'table aegis/public.agents has other content (md5 changed, had a)',
      'table aegis/public.extra is new in the new cluster',
      'database temporal is missing from the new cluster',
    ]);
    const fewer = structuredClone(before);
    (fewer.databases[1]?.tables[0] as { rows: number }).rows = 4;
    expect(fingerprintDifferences(before, fewer)).toEqual(['table temporal/public.executions has 4 rows, had 5']);
  });
});

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Deployment } from '../../src/host/deployment';
import { InvalidActivityInput, NON_RETRYABLE_ERRORS } from '../../src/core/errors';
import { createTagActivities } from '../../src/activities/tag';
import { activityEnvironment } from '../helpers/activity-environment';
import { parseEnvFile, setEnvFileValue } from '../../src/host/env-file';

const ENV = [
  '# --- Registry ---',
  'GHCR_USERNAME=operator',
  'GHCR_TOKEN=ghp_0123456789abcdef',
  '',
  '# --- Image Tags ---',
  'AEGIS_IMAGE_TAG=1.2.0',
  '',
  'POSTGRES_PASSWORD="s3cret pass"',
  '',
].join('\n');

describe('setImageTag', () => {
  let root: string;
  let envFile: string;
  let setImageTag: ReturnType<typeof createTagActivities>['setImageTag'];

  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-tag-'));
    envFile = path.join(root, '.env');
    setImageTag = createTagActivities({ root } as Deployment).setImageTag;
  });
  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it('returns the tag it replaced', async () => {
    await fs.writeFile(envFile, ENV);

    await expect(new MockActivityEnvironment().run(setImageTag, { tag: '1.3.0' })).resolves.toBe('1.2.0');
  });

  it('changes only the AEGIS_IMAGE_TAG line of .env', async () => {
    await fs.writeFile(envFile, ENV);

    await new MockActivityEnvironment().run(setImageTag, { tag: '1.3.0' });

    expect(await fs.readFile(envFile, 'utf8')).toBe(ENV.replace('AEGIS_IMAGE_TAG=1.2.0', 'AEGIS_IMAGE_TAG=1.3.0'));
  });

  it('returns the tag itself and leaves .env alone when it is already set', async () => {
    await fs.writeFile(envFile, ENV);
    const before = await fs.stat(envFile);

    await expect(new MockActivityEnvironment().run(setImageTag, { tag: '1.2.0' })).resolves.toBe('1.2.0');

    expect(await fs.readFile(envFile, 'utf8')).toBe(ENV);
    expect((await fs.stat(envFile)).ino).toBe(before.ino);
  });

  it('returns `latest` and appends the tag when .env has none', async () => {
    await fs.writeFile(envFile, 'GHCR_USERNAME=operator\n');

    await expect(new MockActivityEnvironment().run(setImageTag, { tag: '1.3.0' })).resolves.toBe('latest');

    expect(await fs.readFile(envFile, 'utf8')).toBe('GHCR_USERNAME=operator\nAEGIS_IMAGE_TAG=1.3.0\n');
  });

  it('puts the previous tag back when run again with it, as the rollback does', async () => {
    await fs.writeFile(envFile, ENV);
    const environment = new MockActivityEnvironment();

    await environment.run(setImageTag, { tag: '1.3.0' });
    await expect(environment.run(setImageTag, { tag: '1.2.0' })).resolves.toBe('1.3.0');

    expect(await fs.readFile(envFile, 'utf8')).toBe(ENV);
  });
});

describe('setImageTag refuses a tag that is not an image tag, and leaves .env alone', () => {
  let root: string;

  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-tag-'));
    await fs.writeFile(path.join(root, '.env'), ENV);
  });
  afterAll(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it.each([
    ['a second line, which make would source as root', '1.3.0\nLD_PRELOAD=/tmp/x.so', '`1.3.0\\nLD_PRELOAD=/tmp/x.so`'],
    ['a command substitution', '$(reboot)', '`$(reboot)`'],
    ['a shell command', '1.3.0; rm -rf /', '`1.3.0; rm -rf /`'],
    ['nothing', '', '``'],
  ])('%s', async (_, tag, shown) => {
    const { setImageTag } = createTagActivities({ root } as Deployment);

    const refused = activityEnvironment().run(setImageTag, { tag });

    await expect(refused).rejects.toThrow(InvalidActivityInput);
    await expect(refused).rejects.toThrow(`Expected \`tag\` to be an image tag like 1.3.0, got ${shown}`);
    expect(await fs.readFile(path.join(root, '.env'), 'utf8')).toBe(ENV);
  });

  it('without retries: its error is listed as non-retryable', () => {
    expect(NON_RETRYABLE_ERRORS).toContain(new InvalidActivityInput('tag', 'an image tag', '').name);
  });
});

describe('setImageTag beside another writer of .env', () => {
  let root: string;
  let envFile: string;

  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-tag-'));
    envFile = path.join(root, '.env');
    await fs.writeFile(envFile, ENV);
  });
  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it('keeps the lines make bootstrap-secrets appends and rewrites while the tag is being written', async () => {
    // The first attempt finds bootstrap-openbao.sh's `>>` after it read; the second its `sed -i`; the third goes through.
    const writers = [
      () => fs.appendFile(envFile, 'OPENBAO_ROLE_ID=role-1\nOPENBAO_SECRET_ID=secret-1\n'),
      async () => fs.writeFile(envFile, (await fs.readFile(envFile, 'utf8')).replace('secret-1', 'secret-2')),
    ];
    const replaced = await setEnvFileValue(envFile, 'AEGIS_IMAGE_TAG', '1.3.0', async () => {
      await writers.shift()?.();
    });

    expect(parseEnvFile(replaced).get('AEGIS_IMAGE_TAG')).toBe('1.2.0');
    expect(await fs.readFile(envFile, 'utf8')).toBe(
      `${ENV.replace('AEGIS_IMAGE_TAG=1.2.0', 'AEGIS_IMAGE_TAG=1.3.0')}OPENBAO_ROLE_ID=role-1\nOPENBAO_SECRET_ID=secret-2\n`,
    );
    expect((await fs.readdir(root)).sort()).toEqual(['.env']);
  });

  it('gives up, writing nothing, when the file changes under every attempt, and says why', async () => {
    let line = 0;
    const write = setEnvFileValue(envFile, 'AEGIS_IMAGE_TAG', '1.3.0', () =>
      fs.appendFile(envFile, `OPERATOR_NOTE_${++line}=x\n`),
    );

    await expect(write).rejects.toThrow(/changed under each of 5 attempts to set AEGIS_IMAGE_TAG/);
    expect(parseEnvFile(await fs.readFile(envFile, 'utf8')).get('AEGIS_IMAGE_TAG')).toBe('1.2.0');
    expect((await fs.readdir(root)).sort()).toEqual(['.env']);
  });
});

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { podYamlPath } from '../../src/activities/deployment';
import { podsUnchangedByTag, renderPodDefinition } from '../../src/activities/pod-definitions';
import { ROLLING_ORDER } from '../../src/platform';
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

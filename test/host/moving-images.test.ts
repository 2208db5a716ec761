/**
 * Third-party images on moving tags (src/host/moving-images.ts): which containers of the pods to redeploy have one,
 * read from a checkout's definitions, and how each compares with its registry, on a podman that answers from a table.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CommandFailed } from '../../src/core/errors';
import type { Deployment } from '../../src/host/deployment';
import {
  compareWithRegistry,
  describeMovingImage,
  thirdPartyMovingTags,
  wouldChange,
  type MovingImage,
} from '../../src/host/moving-images';

const OLD = `sha256:${'a'.repeat(64)}`;
const NEW = `sha256:${'b'.repeat(64)}`;

let root: string;
let registry: Record<string, string>;
let commands: string[];

const podman = async (args: readonly string[]) => {
  commands.push(args.join(' '));
  const ok = (stdout: string) => ({ stdout, stderr: '' });
  if (args[0] === 'container') {
    if (args.at(-1) === 'aegis-secrets-openbao') {
      throw new CommandFailed('podman container inspect', 125, 'no such container');
    }
    return ok(`id-of-${String(args.at(-1))}`);
  }
  if (args[0] === 'image') return ok(JSON.stringify([`registry.test/edoburu/pgbouncer@${OLD}`]));
  if (args[0] === 'manifest' && args[1] === 'add') {
    const ref = String(args[3]).replace('docker://', '');
    const digest = registry[ref];
    if (!digest) throw new CommandFailed(`podman manifest add`, 125, `${ref}: manifest unknown`);
    registry.last = digest;
    return ok('');
  }
  if (args[0] === 'manifest' && args[1] === 'inspect') {
    return ok(JSON.stringify({ manifests: [{ digest: registry.last }] }));
  }
  return ok('');
};

const deployment = () =>
  ({ root, podman, env: async () => new Map([['AEGIS_IMAGE_TAG', 'latest']]) }) as unknown as Deployment;

async function writePod(pod: string, containers: Record<string, string>) {
  const dir = path.join(root, 'podman', 'pods', pod);
  await fs.mkdir(dir, { recursive: true });
  const lines = Object.entries(containers).flatMap(([name, image]) => [`    - name: ${name}`, `      image: ${image}`]);
  await fs.writeFile(
    path.join(dir, `pod-${pod}.yaml`),
    ['apiVersion: v1', 'kind: Pod', 'metadata:', `  name: aegis-${pod}`, 'spec:', '  containers:', ...lines, ''].join(
      '\n',
    ),
  );
}

beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'moving-images-'));
  registry = { 'registry.test/edoburu/pgbouncer:latest': NEW };
  commands = [];
  await writePod('database', {
    postgres: 'registry.test/library/postgres:15-alpine',
    pgbouncer: 'registry.test/edoburu/pgbouncer:latest',
    exporter: `registry.test/prometheuscommunity/postgres-exporter@${OLD}`,
  });
  await writePod('core', { 'aegis-runtime': 'registry.test/100monkeys-ai/aegis-runtime:${AEGIS_IMAGE_TAG}' });
  await writePod('secrets', { openbao: 'registry.test/openbao/openbao' });
});
afterEach(() => fs.rm(root, { recursive: true, force: true }));

describe('third-party images on moving tags', () => {
  it('finds `latest` and untagged third-party images; not version tags, digests, nor the AEGIS image on `latest`', async () => {
    expect(await thirdPartyMovingTags(deployment(), ['database', 'core', 'secrets'])).toEqual([
      { pod: 'database', container: 'aegis-database-pgbouncer', image: 'registry.test/edoburu/pgbouncer:latest' },
      { pod: 'secrets', container: 'aegis-secrets-openbao', image: 'registry.test/openbao/openbao:latest' },
    ]);
  });

  it('compares each with the registry through a manifest list of its own, removed after', async () => {
    const [pgbouncer, openbao] = await compareWithRegistry(
      deployment(),
      await thirdPartyMovingTags(deployment(), ['database', 'secrets']),
    );
    expect(pgbouncer).toMatchObject({ running: [OLD], registry: NEW });
    expect(wouldChange(pgbouncer as MovingImage)).toBe(true);
    expect(describeMovingImage(pgbouncer as MovingImage)).toBe(
      'pgbouncer (registry.test/edoburu/pgbouncer:latest, pod database): runs sha256:aaaaaaaaaaaa, the registry names sha256:bbbbbbbbbbbb',
    );
    expect(openbao).toMatchObject({ unknown: 'aegis-secrets-openbao does not run' });
    expect(wouldChange(openbao as MovingImage)).toBe(false);
    const created = commands.filter((command) => command.startsWith('manifest create')).map((c) => c.split(' ')[2]);
    const removed = commands.filter((command) => command.startsWith('manifest rm')).map((c) => c.split(' ')[2]);
    expect(created).toHaveLength(1);
    expect(removed).toEqual(created);
  });

  it('the same digest is unchanged; a registry that does not answer leaves it not compared', async () => {
    registry['registry.test/edoburu/pgbouncer:latest'] = OLD;
    const [same] = await compareWithRegistry(deployment(), await thirdPartyMovingTags(deployment(), ['database']));
    expect(wouldChange(same as MovingImage)).toBe(false);
    expect(describeMovingImage(same as MovingImage)).toBe(
      'pgbouncer (registry.test/edoburu/pgbouncer:latest, pod database): sha256:aaaaaaaaaaaa, unchanged',
    );

    delete registry['registry.test/edoburu/pgbouncer:latest'];
    const [gone] = await compareWithRegistry(deployment(), await thirdPartyMovingTags(deployment(), ['database']));
    expect(wouldChange(gone as MovingImage)).toBe(false);
    expect(describeMovingImage(gone as MovingImage)).toContain('not compared, the registry did not answer');
    expect(commands.filter((command) => command.startsWith('manifest rm'))).toHaveLength(2);
  });
});

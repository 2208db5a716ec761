/**
 * The sandbox's deploy checkout (sandbox/deploy, as sandbox.sh writes it) has the real one's shape: the real checkout
 * (`aegis-deploy`, read in place from AEGIS_DEPLOY_REFERENCE, which CI always sets: test/helpers/deploy-reference.ts) is compared with
 * it by our own readers. Same pods; per pod the same containers, each running an image of the same repository and
 * tag and declaring the same container ports; the same volumes, each of the same kind, path or claim and mounts; the
 * same make targets, `.env` keys and profiles. Only SUBSTITUTIONS may differ (docs/sandbox.md, "The real checkout's
 * shape"). Without a real checkout this suite is skipped, saying so and how to run it.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readPodDefinitions, type NamedPodDefinition } from '../src/host/database-writers';
import { profilePods } from '../src/host/deployment';
import { parseEnvFile } from '../src/host/env-file';
import { makeTargets } from '../src/host/makefile';
import { containerImages, containerPorts, podName, podVolumes, type PodDefinition } from '../src/host/pod-definitions';
import { deployReference } from './helpers/deploy-reference';
import { writeSandboxCheckout } from './helpers/sandbox-pods';

/** The sandbox's own `.env` keys: the host ports of its test bench (AEGIS_SANDBOX_*_PORT), read by its validate-stack.sh. */
const SANDBOX_ENV_KEY_PREFIX = 'AEGIS_SANDBOX_';

/**
 * What may differ between the sandbox's checkout and the real one, and why (docs/sandbox.md lists the same). Anything
 * else that differs fails the test.
 */
export const SUBSTITUTIONS = [
  'the registry host of every image (the sandbox registry 127.0.0.1:<port>: this host reaches no ghcr.io nor docker.io)',
  "host ports: published on 127.0.0.1 on the sandbox's own ports (AEGIS_SANDBOX_*_PORT), and only those its tests and " +
    'validate-stack.sh reach',
  `the .env keys ${SANDBOX_ENV_KEY_PREFIX}*_PORT, those ports`,
  "the FUSE daemon's unit: the checkout's own path to bin/aegis, the mount prefix under the user's runtime directory " +
    "(%t), its listening address on 127.0.0.1 and the deployment's own port (AEGIS_SANDBOX_FUSE_DAEMON_PORT), the " +
    'fault rules in its environment',
] as const;

/** `postgres`, `100monkeys-ai/aegis-runtime`: an image's repository on whichever registry, Docker Hub's `library/`
 * made explicit, and its tag. */
function repositoryAndTag(name: string, tag: string | undefined): string {
  const parts = name.split('/');
  const host = parts.length > 1 && /[.:]|^localhost$/.test(parts[0] ?? '') ? parts.shift() : undefined;
  if (parts.length === 1 && (host === undefined || host === 'docker.io')) parts.unshift('library');
  return `${parts.join('/')}:${tag ?? 'latest'}`;
}

/** The shape of a pod: what the comparison holds equal, substitutions left out. */
function podShape(definition: PodDefinition) {
  const ports = containerPorts(definition);
  return {
    name: podName(definition),
    containers: containerImages(definition).map(({ container, name, tag }) => ({
      container,
      image: repositoryAndTag(name, tag),
      ports: ports.filter((port) => port.container === container).map((port) => port.containerPort),
    })),
    volumes: podVolumes(definition).map((volume) => ({
      volume: volume.volume,
      kind: volume.kind,
      source:
        volume.kind === 'host-directory'
          ? volume.path
          : volume.kind === 'named-volume'
            ? volume.claimName
            : volume.source,
      mounts: volume.mounts.map((mount) => `${mount.container}:${mount.mountPath}${mount.readOnly ? ' ro' : ''}`),
    })),
  };
}

/**
 * A user unit's shape: its `[Service]` keys (continued lines joined) that the upgrade relies on, and what its ExecStart
 * runs: the binary's place in the checkout, its subcommand and option names (their values are substitutions).
 */
async function unitShape(file: string) {
  const text = (await fs.readFile(file, 'utf8')).replace(/\\\n\s*/g, ' ');
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const at = line.indexOf('=');
    if (at > 0 && !line.startsWith('#')) values.set(line.slice(0, at).trim(), line.slice(at + 1).trim());
  }
  const [program = '', ...words] = (values.get('ExecStart') ?? '').split(/\s+/);
  return {
    type: values.get('Type'),
    restart: values.get('Restart'),
    restartSec: values.get('RestartSec'),
    runs: program.endsWith('/bin/aegis') ? 'bin/aegis of the checkout' : program,
    subcommand: words.filter((word) => !word.startsWith('-') && !word.includes('/') && !word.startsWith('$')),
    options: words.filter((word) => word.startsWith('--')),
  };
}

async function profiles(root: string): Promise<Record<string, string[]>> {
  const files = (await fs.readdir(path.join(root, 'profiles'))).filter((file) => file.endsWith('.conf')).sort();
  const read = await Promise.all(
    files.map(async (file) => [file, profilePods(await fs.readFile(path.join(root, 'profiles', file), 'utf8'))]),
  );
  return Object.fromEntries(read);
}

const reference = deployReference();

(reference ? describe : describe.skip)("the sandbox's deploy checkout has the real one's shape (aegis-deploy)", () => {
  const real = reference ?? '';
  let sandbox: string;
  let realPods: NamedPodDefinition[];
  let sandboxPods: NamedPodDefinition[];
  const compared = {
    pods: 0,
    containers: 0,
    volumes: 0,
    namedVolumes: 0,
    targets: 0,
    envKeys: 0,
    profiles: 0,
    units: 0,
  };

  beforeAll(async () => {
    sandbox = await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-sandbox-shape-'));
    await writeSandboxCheckout(sandbox);
    [realPods, sandboxPods] = await Promise.all([readPodDefinitions(real), readPodDefinitions(sandbox)]);
  });

  afterAll(async () => {
    await fs.rm(sandbox, { recursive: true, force: true });
    process.stdout.write(
      `sandbox shape compared with ${real}: ${compared.pods} pods, ${compared.containers} containers, ` +
        `${compared.volumes} volumes (${compared.namedVolumes} named), ${compared.targets} make targets, ` +
        `${compared.envKeys} .env keys, ${compared.profiles} profiles, ${compared.units} user units; ` +
        `substitutions: ${SUBSTITUTIONS.join('; ')}\n`,
    );
  });

  test('the same pods, each with the same containers, images, container ports and volumes', () => {
    expect(sandboxPods.map(({ pod }) => pod)).toEqual(realPods.map(({ pod }) => pod));
    for (const { pod, definition } of realPods) {
      const theirs = podShape(definition);
      const ours = podShape(sandboxPods.find((named) => named.pod === pod)?.definition ?? definition);
      expect({ pod, ...ours }).toEqual({ pod, ...theirs });
      compared.pods += 1;
      compared.containers += theirs.containers.length;
      compared.volumes += theirs.volumes.length;
      compared.namedVolumes += theirs.volumes.filter((volume) => volume.kind === 'named-volume').length;
    }
  });

  test("PostgreSQL's data on the named volume aegis-postgres-data, PgBouncer and the exporter beside it", () => {
    const database = podShape(sandboxPods.find(({ pod }) => pod === 'database')?.definition as PodDefinition);
    expect(database.containers.map(({ container }) => container)).toEqual([
      'postgres',
      'postgres-exporter',
      'pgbouncer',
    ]);
    expect(database.volumes[0]).toMatchObject({ kind: 'named-volume', source: 'aegis-postgres-data' });
  });

  test('the same make targets', async () => {
    const [theirs, ours] = await Promise.all(
      [real, sandbox].map(async (root) => [...makeTargets(await fs.readFile(path.join(root, 'Makefile'), 'utf8'))]),
    );
    expect(ours?.sort()).toEqual(theirs?.sort());
    compared.targets = theirs?.length ?? 0;
  });

  test(".env keys: the real .env.example's, and only the sandbox's own AEGIS_SANDBOX_ ones beside them", async () => {
    const theirs = [...parseEnvFile(await fs.readFile(path.join(real, '.env.example'), 'utf8')).keys()];
    const ours = [...parseEnvFile(await fs.readFile(path.join(sandbox, '.env'), 'utf8')).keys()];
    expect(ours.filter((key) => !key.startsWith(SANDBOX_ENV_KEY_PREFIX)).sort()).toEqual([...theirs].sort());
    compared.envKeys = theirs.length;
  });

  test("the same user units (the FUSE daemon's): each runs the checkout's bin/aegis the same way", async () => {
    const [theirs, ours] = await Promise.all(
      [real, sandbox].map(async (root) => (await fs.readdir(path.join(root, 'systemd'))).sort()),
    );
    expect(ours).toEqual(theirs);
    for (const unit of theirs ?? []) {
      const shapes = await Promise.all([real, sandbox].map((root) => unitShape(path.join(root, 'systemd', unit))));
      expect({ unit, ...shapes[1] }).toEqual({ unit, ...shapes[0] });
      expect(shapes[0]?.runs).toBe('bin/aegis of the checkout');
    }
    compared.units = theirs?.length ?? 0;
  });

  test('the same profiles, each listing the same pods in the same order', async () => {
    const [theirs, ours] = await Promise.all([profiles(real), profiles(sandbox)]);
    expect(ours).toEqual(theirs);
    compared.profiles = Object.keys(theirs).length;
  });
});

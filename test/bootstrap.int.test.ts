import { execa } from 'execa';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathWithoutPlatformPodman } from './helpers/platform-user';
import { REPO_ROOT } from './helpers/repo';

const BOOTSTRAP = path.join(REPO_ROOT, 'scripts', 'bootstrap.sh');
const PODMAN_CONF = '/etc/containers/containers.conf.d/50-aegis-upgrade.conf';
const TIMEOUT_MS = 2 * 60_000;

const PLATFORM_USER = process.env.AEGIS_PLATFORM_USER ?? 'aegis';

/** A command as the platform's user, as scripts/lib/platform-user.sh runs it. */
const asPlatformUser = (file: string, args: string[]) =>
  execa(
    'bash',
    [
      '-c',
      'source scripts/lib/common.sh && source scripts/lib/platform-user.sh && as_platform_user "$@"',
      '-',
      file,
      ...args,
    ],
    {
      cwd: REPO_ROOT,
    },
  );

/** The bootstrap as root runs it: its podman is root's (the integration tests' own is the platform user's). */
const bootstrap = (args: string[], env: Record<string, string> = {}) =>
  execa('bash', [BOOTSTRAP, ...args], {
    env: { ...env, PATH: pathWithoutPlatformPodman(env.PATH) },
    reject: false,
    all: true,
  });

/** Root's own podman, which the bootstrap sets up and smoke-tests. */
const rootPodman = (args: string[]) => execa('podman', args, { env: { PATH: pathWithoutPlatformPodman() } });

async function smokeLeftovers(): Promise<string> {
  const containers = await rootPodman(['ps', '-a', '--filter', 'name=bootstrap-smoke', '--format', '{{.Names}}']);
  const pods = await rootPodman(['pod', 'ps', '--filter', 'name=bootstrap-smoke', '--format', '{{.Name}}']);
  const networks = await rootPodman(['network', 'ls', '--filter', 'name=bootstrap-smoke', '--format', '{{.Name}}']);
  return [containers.stdout, pods.stdout, networks.stdout].join('').trim();
}

/** `npm test` has just run the bootstrap once; these run it again, as every later `npm test` does. */
describe('scripts/bootstrap.sh', () => {
  test(
    'a second run keeps the settings it needs and passes its smoke test of every part',
    async () => {
      const run = await bootstrap([]);
      expect({ exitCode: run.exitCode, output: run.all }).toEqual({
        exitCode: 0,
        output: expect.stringContaining('smoke test passed in'),
      });
      expect(run.all).toContain('pod with infra container, DNS between containers, local registry push/pull');
      const conf = await fs.readFile(PODMAN_CONF, 'utf8');
      expect(conf).toMatch(/^network_backend = "netavark"$/m);
      expect(conf).toMatch(/^runtime = "runc"$/m);
      const info = await rootPodman(['info', '--format', '{{.Host.NetworkBackend}} {{.Host.OCIRuntime.Name}}']);
      expect(info.stdout).toBe('netavark runc');
      expect(await smokeLeftovers()).toBe('');
    },
    TIMEOUT_MS,
  );

  test(
    "the platform's user has rootless podman on overlay, as the real platform runs",
    async () => {
      const run = await bootstrap(['--check']);
      expect(run.exitCode).toBe(0);
      expect(run.all).toContain(`a rootless pod of ${PLATFORM_USER}'s`);
      const info = await asPlatformUser('podman', [
        'info',
        '--format',
        '{{.Host.Security.Rootless}} {{.Store.GraphDriverName}}',
      ]);
      expect(info.stdout).toBe('true overlay');
      expect((await asPlatformUser('podman', ['pod', 'ps', '-q', '--filter', 'name=bootstrap-smoke'])).stdout).toBe('');
    },
    TIMEOUT_MS,
  );

  test(
    'a part that does not work is named, with the command that fixes it, and nothing is left behind',
    async () => {
      // A docker-registry that starts and dies at once: the part is installed, but does not work.
      const bin = await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-broken-registry-'));
      await fs.writeFile(path.join(bin, 'docker-registry'), '#!/bin/sh\necho "broken on purpose" >&2\nexit 1\n', {
        mode: 0o755,
      });
      try {
        const run = await bootstrap(['--check'], { PATH: `${bin}:${process.env.PATH ?? ''}` });
        expect(run.exitCode).toBe(1);
        expect(run.all).toContain('SMOKE TEST FAILED: registry: an image does not go through a local registry');
        expect(run.all).toContain('fix: apt-get install -y docker-registry');
        expect(await smokeLeftovers()).toBe('');
      } finally {
        await fs.rm(bin, { recursive: true, force: true });
      }
    },
    TIMEOUT_MS,
  );
});

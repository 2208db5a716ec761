import { execa } from 'execa';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config';
import { REPO_ROOT } from './helpers/repo';
import { startDevServer, type DevServer } from './helpers/temporal-server';
import { startWorker, type WorkerProcess } from './helpers/worker-process';

/** The install fetches the dependencies: from npm's cache when it has them. */
const INSTALL_TIMEOUT_MS = 5 * 60_000;
const WORKER_TIMEOUT_MS = 2 * 60_000;

/**
 * What the tarball may hold: the built product, its command, its service unit and env file, its Prometheus alerts, its
 * README and the docs it links to.
 */
const PRODUCT =
  /^(README\.md|docs\/[^/]+\.md|package\.json|bin\/[^/]+\.js|deploy\/(aegis-upgrade-worker\.service|worker\.env\.example|aegis-upgrade\.alerts\.yml)|dist\/src\/.+\.js(\.map)?)$/;

const UNIT = 'deploy/aegis-upgrade-worker.service';
/** The unit's command, where `npm install -g` puts it with npm's default prefix. */
const UNIT_COMMAND = '/usr/local/bin/aegis-upgrade worker';

// The variables a parent `npm test` hands down (npm_config_prefix, npm_package_json, …) would steer the child npm.
const env = Object.fromEntries(
  Object.entries(process.env).filter((entry): entry is [string, string] => !/^npm_/i.test(entry[0]) && !!entry[1]),
);
const npm = (args: string[], cwd: string) => execa('npm', args, { cwd, env, extendEnv: false });
const npx = (args: string[], cwd: string) => execa('npx', args, { cwd, env, extendEnv: false, reject: false });

/** The package as an operator gets it: `npm pack`, then `npm install` of the tarball into an empty directory. */
describe('the npm package', () => {
  let dir: string;
  let app: string;
  let files: string[];

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-upgrade-package-'));
    app = path.join(dir, 'app');
    await fs.mkdir(app);
    // The build npm test made, packed as it is: prepack's build would replace dist/ under the tests running beside.
    const packed = await npm(['pack', '--ignore-scripts', '--json', '--pack-destination', dir], REPO_ROOT);
    const [manifest] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
    if (!manifest) throw new Error(`npm pack printed no package:\n${packed.stdout}`);
    files = manifest.files.map((file) => file.path);
    await npm(['install', '--no-audit', '--no-fund', '--prefer-offline', path.join(dir, manifest.filename)], app);
  }, INSTALL_TIMEOUT_MS);

  afterAll(async () => {
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  test('ships the built product only: no sandbox, tests, scripts or sources', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'bin/aegis-upgrade.js',
        'deploy/aegis-upgrade-worker.service',
        'dist/src/cli/main.js',
        'dist/src/worker.js',
        'dist/src/workflows/index.js',
        'dist/src/workflow-bundle.js',
        'docs/configuration.md',
      ]),
    );
    expect(files.filter((file) => /^(sandbox|test|scripts|src)\//.test(file))).toEqual([]);
    expect(files.filter((file) => !PRODUCT.test(file))).toEqual([]);
  });

  test('npm pack builds the product first (prepack): packed by hand, it never ships a stale dist/', async () => {
    const manifest = JSON.parse(await fs.readFile(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    expect(manifest.scripts.prepack).toBe('npm run --silent build');
  });

  test('aegis-upgrade --help works where it is installed', async () => {
    // --no: a missing local command fails here instead of being fetched from the registry.
    const help = await npx(['--no', '--', 'aegis-upgrade', '--help'], app);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toMatch(/^aegis-upgrade: upgrade the AEGIS platform/);
    expect(help.stdout).toMatch(/^ {2}worker /m);
  });

  test('its systemd unit verifies, run on the installed command, and outwaits the worker shutdown', async () => {
    const shipped = await fs.readFile(path.join(app, 'node_modules', 'aegis-upgrade', UNIT), 'utf8');
    expect(shipped).toContain(`ExecStart=${UNIT_COMMAND}`);
    const unit = path.join(dir, 'aegis-upgrade-worker.service');
    const installed = path.join(app, 'node_modules', '.bin', 'aegis-upgrade');
    await fs.writeFile(unit, shipped.replace(`ExecStart=${UNIT_COMMAND}`, `ExecStart=${installed} worker`));
    const verify = await execa('systemd-analyze', ['verify', unit], { reject: false });
    expect({ exitCode: verify.exitCode, stderr: verify.stderr }).toEqual({ exitCode: 0, stderr: '' });

    const setting = (key: string) => new RegExp(`^${key}=(.*)$`, 'm').exec(shipped)?.[1];
    // SIGTERM to the worker alone (its running `make redeploy` goes on), and more time than grace + force time.
    expect(setting('KillMode')).toBe('mixed');
    expect(setting('Restart')).toBe('on-failure');
    expect(setting('EnvironmentFile')).toBe('/etc/aegis-upgrade/worker.env');
    const { shutdownGraceSeconds } = loadConfig({ AEGIS_ROOT: dir }).worker;
    expect(Number(setting('TimeoutStopSec'))).toBeGreaterThan(shutdownGraceSeconds + 30);
  });

  describe('aegis-upgrade worker', () => {
    let server: DevServer | undefined;
    let worker: WorkerProcess | undefined;

    afterAll(async () => {
      await worker?.kill();
      await server?.stop();
    });

    test(
      'starts from the installed package on a real server and stops on SIGTERM',
      async () => {
        server = await startDevServer();
        // Its Makefile and .env are enough to start: the activities read the rest only when an upgrade runs.
        const root = path.join(dir, 'aegis-deploy');
        await fs.mkdir(root);
        await fs.writeFile(path.join(root, 'Makefile'), 'redeploy:\n');
        await fs.writeFile(path.join(root, '.env'), 'AEGIS_IMAGE_TAG=1.2.0\n');
        worker = await startWorker(
          { AEGIS_ROOT: root, TEMPORAL_ADDRESS: server.address, AEGIS_TASK_QUEUE: 'aegis-upgrades-package' },
          { file: path.join(app, 'node_modules', '.bin', 'aegis-upgrade'), args: ['worker'], cwd: app },
        );
        expect(worker.output()).toContain(
          `aegis-upgrade worker: task queue aegis-upgrades-package, namespace default, ` +
            `on ${server.address} (TEMPORAL_ADDRESS, no TLS); fleets from aegis-upgrades-package.fleet; ` +
            `environment default, deployment ${root}; workflows from the prebuilt workflow bundle ` +
            path.join(app, 'node_modules', 'aegis-upgrade', 'dist', 'src', 'workflow-bundle.js'),
        );
        const exitCode = await worker.stop();
        worker = undefined;
        expect(exitCode).toBe(0);
      },
      WORKER_TIMEOUT_MS,
    );
  });
});

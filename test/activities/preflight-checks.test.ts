import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createCommandRunner, type RunCommand } from '../../src/host/command';
import { createDeployment, type Deployment } from '../../src/host/deployment';
import { readDeployEnv, secretValues } from '../../src/host/env-file';
import { PreflightFailed } from '../../src/core/errors';
import { createPreflightActivities, type PreflightReport } from '../../src/activities/preflight';
import { loadConfig } from '../../src/config';
import type { PodName } from '../../src/core/platform';
import { activityEnvironment } from '../helpers/activity-environment';

/**
 * Pre-flight on a deploy checkout in a temporary directory: the real `make` runs its Makefile's `registry-login` and
 * `validate`; podman, PostgreSQL and the health endpoints are stand-ins for a healthy platform unless a test says
 * otherwise. Each test checks that a refusal changed nothing: the checkout holds the files it was given, no lock.
 */
const EXPIRED_TOKEN = 'ghp_expired0123456789abcdef';

/** The real aegis-deploy's login: it fails on an empty token; here the registry also refuses `EXPIRED_TOKEN`. */
const MAKEFILE = `
registry-login:
\t@set -a && . ./.env && set +a && \\
\tif [ -z "$$GHCR_TOKEN" ]; then echo "ERROR: GHCR_TOKEN is not set in .env — cannot pull private images."; exit 1; fi && \\
\tif [ "$$GHCR_TOKEN" = "${EXPIRED_TOKEN}" ]; then echo "Error: logging into ghcr.io as $$GHCR_USERNAME with $$GHCR_TOKEN: invalid username/password"; exit 1; fi && \\
\techo "==> Logged in to ghcr.io as $$GHCR_USERNAME"

validate:
\t@cat validate.out

# Never run here: pre-flight only checks that the targets an upgrade runs are there.
redeploy:
\t@false
`;

const VALIDATE_OK = ['  ✗ PostgreSQL (localhost:5432)', '  ✓ AEGIS Runtime', '  ✓ SEAL Gateway', '  ✓ Prometheus'].join(
  '\n',
);

const PODS = ['database', 'core', 'seal-gateway'];
/** The container and image each pod's YAML names, as aegis-deploy's do: the database's is no AEGIS image. */
const POD_IMAGES = {
  database: ['postgres', 'postgres:15-alpine'],
  core: ['aegis-runtime', 'ghcr.io/100monkeys-ai/aegis-runtime:${AEGIS_IMAGE_TAG}'],
  'seal-gateway': ['seal-gateway', 'ghcr.io/100monkeys-ai/aegis-seal-gateway:${AEGIS_IMAGE_TAG}'],
};
const podYaml = (pod: string, [container, image]: string[]) =>
  `metadata:\n  name: aegis-${pod}\nspec:\n  containers:\n    - name: ${container}\n      image: ${image}\n`;

interface Platform {
  /** Container state by pod, `running` unless set. */
  containerState: Record<string, string>;
  runtimeReady: unknown;
  sealGatewayHealth: unknown;
}

describe('checkPreflight checks the registry login and the platform health before anything changes', () => {
  let root: string;
  let files: string[];
  let servers: http.Server[] = [];
  let platform: Platform;
  const podmanCalls: string[][] = [];
  /** What `.env` names as the running release. */
  let deployedTag = '1.2.0';
  const RUNTIME_DIGEST = 'sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';

  async function serve(answer: (url: string) => unknown): Promise<string> {
    const server = http.createServer((request, response) => {
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify(answer(request.url ?? '')));
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  /** podman as a healthy platform answers it; every call is recorded. */
  const podman: RunCommand = async (_file, args) => {
    podmanCalls.push([...args]);
    const [command, sub, name] = args;
    if (command === 'pod' && sub === 'inspect') {
      const pod = (name ?? '').replace(/^aegis-/, '');
      if (!PODS.includes(pod)) throw new Error(`no such pod ${name}`);
      const state = platform.containerState[pod] ?? 'running';
      return {
        stdout: JSON.stringify({
          Created: '2026-11-26T02:00:00Z',
          Containers: [{ Name: `${name}-main`, State: state }],
        }),
        stderr: '',
      };
    }
    if (command === 'container' && sub === 'inspect' && args.at(-1) === 'aegis-core-aegis-runtime') {
      return { stdout: 'runtime-image-id', stderr: '' };
    }
    if (command === 'image' && sub === 'inspect' && args.at(-1) === 'runtime-image-id') {
      return { stdout: RUNTIME_DIGEST, stderr: '' };
    }
    return { stdout: 'ok', stderr: '' };
  };

  async function deployment(token: string): Promise<Deployment> {
    await fs.writeFile(
      path.join(root, '.env'),
      `GHCR_USERNAME=operator\nGHCR_TOKEN=${token}\nAEGIS_IMAGE_TAG=${deployedTag}\n`,
    );
    files = (await fs.readdir(root)).sort();
    const config = loadConfig({
      AEGIS_ROOT: root,
      AEGIS_RUNTIME_URL: await serve((url) =>
        url === '/health/ready' ? platform.runtimeReady : { status: 'healthy' },
      ),
      AEGIS_SEAL_GATEWAY_URL: await serve(() => platform.sealGatewayHealth),
    });
    // The real runner for make, so its redaction is what is tested; podman is a stand-in.
    const realRun = createCommandRunner(async () => secretValues(await readDeployEnv(root)));
    const run: RunCommand = (file, args, options) =>
      file === 'make' ? realRun(file, args, options) : podman(file, args, options);
    return {
      ...createDeployment({ config, run }),
      query: async <Row extends object>() =>
        [{ server_version_num: '150008', server_version: '15.8', bytes: '0' }] as Row[],
      runningImages: async () => ({}),
    };
  }

  const request = { targetVersion: '1.3.0', pods: ['database', 'core', 'seal-gateway'] as PodName[] };

  async function preflight(token = 'ghp_valid0123456789abcdef', pods = request.pods, versions = {}) {
    const { checkPreflight } = createPreflightActivities(await deployment(token));
    return activityEnvironment().run(checkPreflight, {
      request: { ...request, pods: [...pods], ...versions },
      lockOwner: { workflowId: 'aegis-upgrade-default', runId: 'run-1' },
    });
  }

  async function refusal(token?: string, pods?: PodName[]): Promise<PreflightFailed> {
    const error = await preflight(token, pods).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    if (!(error instanceof PreflightFailed)) throw new Error(`Expected PreflightFailed, got ${String(error)}`);
    expect((await fs.readdir(root)).sort()).toEqual(files);
    return error;
  }

  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-preflight-'));
    await fs.mkdir(path.join(root, 'profiles'));
    await fs.writeFile(path.join(root, 'profiles', 'development.conf'), `PODS="${PODS.join(' ')}"\n`);
    await fs.writeFile(path.join(root, 'Makefile'), MAKEFILE);
    await fs.writeFile(path.join(root, 'validate.out'), VALIDATE_OK);
    for (const [pod, image] of Object.entries(POD_IMAGES)) {
      await fs.mkdir(path.join(root, 'podman', 'pods', pod), { recursive: true });
      await fs.writeFile(path.join(root, 'podman', 'pods', pod, `pod-${pod}.yaml`), podYaml(pod, image));
    }
    platform = {
      containerState: {},
      runtimeReady: { status: 'ready', dependencies: { database: true, temporal: true } },
      sealGatewayHealth: { status: 'healthy' },
    };
    podmanCalls.length = 0;
    deployedTag = '1.2.0';
  });
  afterEach(async () => {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    servers = [];
    await fs.rm(root, { recursive: true, force: true });
  });

  it('passes on a healthy platform and says what it checked', async () => {
    const report = (await preflight()) as PreflightReport;

    expect(report.checks).toEqual(
      expect.arrayContaining([
        'Registry login: make registry-login succeeded',
        'Platform healthy: pods database, core, seal-gateway running; 3 services ✓; runtime ready',
      ]),
    );
  });

  it('names the images `latest` meant when it began, by the digest of the runtime running, and only for a moving tag', async () => {
    deployedTag = 'latest';
    const report = (await preflight()) as PreflightReport;

    expect({ fromVersion: report.fromVersion, fromDigest: report.fromDigest }).toEqual({
      fromVersion: 'latest',
      fromDigest: RUNTIME_DIGEST,
    });
    expect(report.checks).toContain(
      'latest (sha256:0123456789ab) runs now: a rollback returns to these images, whatever latest names by then',
    );

    deployedTag = '1.2.0';
    const release = (await preflight()) as PreflightReport;
    expect(release.fromDigest).toBeUndefined();
    expect(release.checks.join('\n')).not.toContain('runs now');
  });

  it("runs doctor's checks of the checkout's files: one line for those passed, one per warning", async () => {
    const report = (await preflight()) as PreflightReport;

    expect(report.checks).toContain(
      'Checkout: Profile development, Pod core, Pod database, Pod seal-gateway, Podman ✓',
    );
    expect(report.checks.find((line) => line.startsWith('Make targets: '))).toContain(
      'missing teardown (the full strategy)',
    );
    expect(report.checks.find((line) => line.startsWith('.env: '))).toContain('unset: POSTGRES_USER');
    expect(report.checks).toContain(
      "PgBouncer: not applicable: pod database's definition runs none: its clients connect to PostgreSQL directly",
    );
  });

  it('refuses a checkout doctor blocks, naming each problem and its fix, before the registry or the platform is asked', async () => {
    await fs.writeFile(path.join(root, 'Makefile'), MAKEFILE.replace('redeploy:', 'redeploy-all:'));
    const core = path.join(root, 'podman', 'pods', 'core', 'pod-core.yaml');
    await fs.writeFile(core, (await fs.readFile(core, 'utf8')).replace('${AEGIS_IMAGE_TAG}', '1.2.0'));

    const error = await refusal();

    expect(error.message).toContain("Pod core: in the profile; not understood: aegis-runtime's tag is 1.2.0");
    expect(error.message).toContain('Make targets: missing redeploy (each pod, in rolling order, and the rollback)');
    expect(error.message).toMatch(/; nothing was changed$/);
    expect(podmanCalls).toEqual([]);
  });

  it('refuses when GHCR_TOKEN is empty, naming make registry-login, before asking the registry anything', async () => {
    const error = await refusal('');

    expect(error.message).toContain('`make registry-login` fails in');
    expect(error.message).toContain('ERROR: GHCR_TOKEN is not set in .env');
    expect(error.message).toContain('nothing was changed');
    // The registry is never asked for an image; the health looks that run beside the login only read the pods.
    expect(podmanCalls.filter((args) => ['manifest', 'pull', 'login', 'image'].includes(args[0] ?? ''))).toEqual([]);
    expect(podmanCalls.every((args) => ['pod', 'container', 'exec'].includes(args[0] ?? ''))).toBe(true);
  });

  it('refuses when the registry rejects the token, and never shows the token', async () => {
    const error = await refusal(EXPIRED_TOKEN);

    expect(error.message).toContain('invalid username/password');
    expect(error.message).not.toContain(EXPIRED_TOKEN);
    expect(error.message).not.toContain('expired0123');
    expect(error.message).toContain('operator with ***');
  });

  it('refuses when a pod of the profile is down, naming it', async () => {
    platform.containerState['seal-gateway'] = 'exited';

    const error = await refusal();

    expect(error.message).toContain('The platform is not healthy before the upgrade');
    expect(error.message).toContain('aegis-seal-gateway: aegis-seal-gateway-main is exited');
  });

  it('lets a downgrade, the way back, go ahead on an unhealthy platform, naming each problem in its checks', async () => {
    platform.containerState.core = 'exited';
    platform.runtimeReady = { status: 'degraded', dependencies: { database: true, temporal: false } };
    // The backup taken when the platform left 1.1.0, as every downgrade names (checkDowngrade).
    const backup = '20261101T030000Z-1.1.0-to-1.2.0';
    await fs.mkdir(path.join(root, 'backups', backup), { recursive: true });
    await fs.writeFile(
      path.join(root, 'backups', backup, 'manifest.json'),
      JSON.stringify({ fromVersion: '1.1.0', toVersion: '1.2.0', files: [] }),
    );

    const report = (await preflight(undefined, request.pods, {
      targetVersion: '1.1.0',
      restoreFrom: backup,
    })) as PreflightReport;

    expect(report.checks).toContain(
      'Platform not healthy, a downgrade goes ahead all the same (its validation judges the result): ' +
        'aegis-core: aegis-core-main is exited; runtime /health/ready is degraded: {"database":true,"temporal":false}',
    );
    expect(report.checks).toContain(`Downgrade 1.2.0 → 1.1.0: restores ${path.join(root, 'backups', backup)}`);
  });

  it("refuses when the runtime's readiness is degraded, with its dependencies", async () => {
    platform.runtimeReady = { status: 'degraded', dependencies: { database: false, temporal: true } };

    const error = await refusal();

    expect(error.message).toContain('runtime /health/ready is degraded: {"database":false,"temporal":true}');
  });

  it("refuses when the seal gateway's own health check fails, naming it", async () => {
    platform.sealGatewayHealth = { status: 'unhealthy' };

    const error = await refusal();

    expect(error.message).toMatch(/aegis-seal-gateway: http:\/\/127\.0\.0\.1:\d+\/health says "unhealthy"/);
  });

  it('refuses a `pods` list that leaves out a pod the new tag changes, naming each; one the tag leaves alone may go', async () => {
    const error = await refusal(undefined, ['database']);

    expect(error.message).toBe(
      '`pods` leaves out `core`, `seal-gateway`, whose definition 1.3.0 changes: the upgrade sets ' +
        'AEGIS_IMAGE_TAG=1.3.0 in .env, so their next `make redeploy` would upgrade them without a backup or a ' +
        'migration check. Add them to `pods`, or leave `pods` out; nothing was changed',
    );
    expect(((await preflight(undefined, ['core', 'seal-gateway'])) as PreflightReport).pods).toEqual([
      'core',
      'seal-gateway',
    ]);
  });

  it('refuses when make validate sees a service down, as the last step of the upgrade would', async () => {
    await fs.writeFile(path.join(root, 'validate.out'), `${VALIDATE_OK}\n  ✗ Temporal UI (http://localhost:8233)`);

    const error = await refusal();

    expect(error.message).toContain('✗ Temporal UI (http://localhost:8233)');
  });
});

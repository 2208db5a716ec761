import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Deployment } from '../../src/host/deployment';
import {
  KNOWN_NOISE,
  createValidationActivities,
  deployedHostPorts,
  parseValidateOutput,
  probedPort,
  servicesNotDeployed,
  validationFailures,
} from '../../src/activities/validation';
import { activityEnvironment } from '../helpers/activity-environment';
import { deployReference } from '../helpers/deploy-reference';

const GREEN = '\x1b[0;32m';
const RED = '\x1b[0;31m';
const NC = '\x1b[0m';
const ok = (name: string) => `  ${GREEN}✓${NC} ${name}`;
const ko = (name: string, url: string) => `  ${RED}✗${NC} ${name} (${url})`;

/** `make validate` (aegis-deploy's scripts/validate-stack.sh) on a healthy platform: the noise is still ✗. */
const VALIDATE_OUTPUT = [
  'Validating AEGIS platform services...',
  '',
  'Database:',
  ko('PostgreSQL', 'localhost:5432'),
  'Core:',
  ok('AEGIS Runtime'),
  'Temporal:',
  ko('Temporal Server', 'http://localhost:7233'),
  ok('Temporal UI'),
  'Gateways:',
  ok('SEAL Gateway'),
  'IAM & Secrets:',
  ok('Keycloak'),
  ok('OpenBao'),
  'Observability:',
  ok('Jaeger UI'),
  ok('Prometheus'),
  '',
  "Run 'make status' for pod-level status.",
].join('\n');

describe('parseValidateOutput', () => {
  it('reads one entry per ✓/✗ line and skips the header, section and footer lines', () => {
    const lines = parseValidateOutput(VALIDATE_OUTPUT);

    expect(lines.map((line) => line.service)).toEqual([
      'PostgreSQL',
      'AEGIS Runtime',
      'Temporal Server',
      'Temporal UI',
      'SEAL Gateway',
      'Keycloak',
      'OpenBao',
      'Jaeger UI',
      'Prometheus',
    ]);
  });

  it('reads ✓ as ok and ✗ as not ok, through the colour codes', () => {
    const lines = parseValidateOutput(VALIDATE_OUTPUT);

    expect(lines.find((line) => line.service === 'AEGIS Runtime')).toEqual({
      ok: true,
      service: 'AEGIS Runtime',
      detail: '',
    });
    expect(lines.find((line) => line.service === 'PostgreSQL')).toEqual({
      ok: false,
      service: 'PostgreSQL',
      detail: 'localhost:5432',
    });
  });

  it('keeps the probed URL of a ✗ line as its detail', () => {
    const [line] = parseValidateOutput(ko('SEAL Gateway', 'http://localhost:8089'));

    expect(line).toEqual({ ok: false, service: 'SEAL Gateway', detail: 'http://localhost:8089' });
  });

  it('finds no line in output without ✓ or ✗', () => {
    expect(parseValidateOutput('make: *** No rule to make target `validate`.  Stop.\n')).toEqual([]);
  });
});

describe('validationFailures', () => {
  it('ignores the expected ✗ of PostgreSQL and Temporal Server', () => {
    expect(KNOWN_NOISE).toEqual(['PostgreSQL', 'Temporal Server']);
    expect(validationFailures(parseValidateOutput(VALIDATE_OUTPUT))).toEqual([]);
  });

  it('reports every other ✗ line', () => {
    const output = [VALIDATE_OUTPUT, ko('AEGIS Runtime', 'http://localhost:8088/health'), ko('Temporal UI', 'x')].join(
      '\n',
    );

    expect(validationFailures(parseValidateOutput(output))).toEqual([
      { ok: false, service: 'AEGIS Runtime', detail: 'http://localhost:8088/health' },
      { ok: false, service: 'Temporal UI', detail: 'x' },
    ]);
  });
});

describe('probedPort', () => {
  it('reads the port a ✗ line probed, with or without a scheme, the scheme’s own when none is written', () => {
    expect(probedPort('localhost:5432')).toBe(5432);
    expect(probedPort('http://localhost:8180/health/ready')).toBe(8180);
    expect(probedPort('http://127.0.0.1/health')).toBe(80);
    expect(probedPort('https://aegis.example.com/ready')).toBe(443);
    expect(probedPort('x')).toBe(80);
    expect(probedPort('')).toBeUndefined();
    expect(probedPort('http://[not a host')).toBeUndefined();
  });
});

const reference = deployReference();

(reference ? describe : describe.skip)(
  'make validate on the real deploy checkout (aegis-deploy, read in place)',
  () => {
    const deployment = (profile: string) =>
      ({ root: reference ?? '', config: { aegis: { profile } } }) as unknown as Deployment;
    /**
     * The real `validate-stack.sh` on a healthy platform of the `development` profile: Keycloak (a pod of no profile) and
     * SeaweedFS (pod `storage`, only in `full`) are probed all the same, and are down.
     */
    const development = (openbao: string) =>
      [
        VALIDATE_OUTPUT.replace(ok('Keycloak'), ko('Keycloak', 'http://localhost:8180/health/ready')).replace(
          ok('OpenBao'),
          openbao,
        ),
        ko('SeaweedFS Master', 'http://localhost:9333'),
        ko('SeaweedFS Filer', 'http://localhost:8888'),
      ].join('\n');

    it('judges only the services of the pods the profile runs', async () => {
      const ports = await deployedHostPorts(deployment('development'));
      const lines = parseValidateOutput(development(ok('OpenBao')));

      expect(validationFailures(lines, ports)).toEqual([]);
      expect(servicesNotDeployed(lines, ports)).toEqual(['Keycloak', 'SeaweedFS Master', 'SeaweedFS Filer']);
    });

    it('counts a service of the profile that is down: OpenBao sealed (pod secrets)', async () => {
      const ports = await deployedHostPorts(deployment('development'));
      const sealed = ko('OpenBao', 'http://localhost:8200/v1/sys/health');

      expect(validationFailures(parseValidateOutput(development(sealed)), ports)).toEqual([
        { ok: false, service: 'OpenBao', detail: 'http://localhost:8200/v1/sys/health' },
      ]);
    });

    it('judges SeaweedFS where the profile runs it (full)', async () => {
      const ports = await deployedHostPorts(deployment('full'));

      expect(
        validationFailures(parseValidateOutput(development(ok('OpenBao'))), ports).map((line) => line.service),
      ).toEqual(['SeaweedFS Master', 'SeaweedFS Filer']);
    });
  },
);

describe('validatePlatform', () => {
  let runtime: http.Server;
  let runtimeUrl: string;

  beforeAll(async () => {
    runtime = http.createServer((_request, response) => response.end(JSON.stringify({ status: 'ready' })));
    await new Promise<void>((resolve) => runtime.listen(0, '127.0.0.1', resolve));
    runtimeUrl = `http://127.0.0.1:${(runtime.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => runtime.close(resolve));
  });

  it('heartbeats while make validate runs: its curls may outlast the 10 s heartbeat timeout of a redeploy', async () => {
    const environment = activityEnvironment({ heartbeatTimeoutMs: 10_000 });
    let heartbeats = 0;
    environment.on('heartbeat', () => heartbeats++);
    // A `make validate` that ends only once the activity has heartbeaten twice while it ran (about 4 s).
    const make = async () => {
      const before = heartbeats;
      const deadline = Date.now() + 6_000;
      while (heartbeats < before + 2) {
        if (Date.now() > deadline) throw new Error('make validate ran 6 s without the activity heartbeating');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      return { stdout: [VALIDATE_OUTPUT, ko('SeaweedFS Master', 'http://localhost:9333')].join('\n'), stderr: '' };
    };
    // A checkout whose profile runs the runtime alone, published on 8088: SeaweedFS is not in it.
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-validate-'));
    await fs.mkdir(path.join(root, 'profiles'));
    await fs.writeFile(path.join(root, 'profiles', 'runtime.conf'), 'PODS="core"\n');
    await fs.mkdir(path.join(root, 'podman', 'pods', 'core'), { recursive: true });
    await fs.writeFile(
      path.join(root, 'podman', 'pods', 'core', 'pod-core.yaml'),
      'kind: Pod\nspec:\n  containers:\n    - name: aegis-runtime\n      ports:\n        - containerPort: 8088\n          hostPort: 8088\n',
    );
    const config = { aegis: { runtimeUrl, readyTimeoutSeconds: 1, profile: 'runtime' } };
    const deployment = { root, config, make } as unknown as Deployment;
    const { validatePlatform } = createValidationActivities(deployment);

    await expect(environment.run(validatePlatform)).resolves.toBe(
      '7 services ✓ (noise ignored: PostgreSQL, Temporal Server; not in the profile: SeaweedFS Master); runtime ready',
    );
    await fs.rm(root, { recursive: true, force: true });
  }, 10_000);
});

import { execa } from 'execa';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { UpgradeReport } from '../../src/core/upgrade';
import { REPO_ROOT } from '../helpers/repo';
import { startDevServer, type DevServer } from '../helpers/temporal-server';
import { makeCertificates, startTlsProxy, type Certificates, type TlsProxy } from '../helpers/tls';
import { startWorker, type WorkerProcess } from '../helpers/worker-process';

const TIMEOUT_MS = 3 * 60_000;
const CLI = path.join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
const WORKER_CERT = 'aegis-upgrade-worker';
const CLI_CERT = 'aegis-upgrade-cli';

/**
 * The worker and the CLI reach the real dev server with nothing but the `temporal` CLI's profile file, in plain text
 * and with mTLS. `temporal server start-dev` v1.5.1 has no TLS option, so the TLS endpoint is a TLS-terminating
 * proxy (node:tls, that is OpenSSL) in front of the dev server, requiring a client certificate: the clients speak
 * real TLS to it, check its certificate against the profile's CA and present the profile's certificate.
 */
describe('the Temporal connection from a profile file, on the real dev server', () => {
  let server: DevServer;
  let dir: string;
  let certificates: Certificates;
  let proxy: TlsProxy;
  let proxyOnIPv6: TlsProxy;
  let worker: WorkerProcess | undefined;
  let taskQueue: string;

  /** `aegis-upgrade …` with only `env` for its connection. */
  const aegisUpgrade = (args: string[], env: Record<string, string>) =>
    execa(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: dir, AEGIS_TASK_QUEUE: taskQueue, ...env },
      extendEnv: false,
      reject: false,
    });

  /** The `temporal` CLI the bootstrap built, with only `env` for its connection. */
  const temporal = (args: string[], env: Record<string, string>) =>
    execa('bash', [path.join(REPO_ROOT, 'scripts', 'temporal.sh'), ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: os.homedir(), ...env },
      extendEnv: false,
      reject: false,
      all: true,
    });

  /** The worker on this file's deployment; this process's TEMPORAL_* variables blanked, which counts as unset. */
  const startAegisWorker = (env: Record<string, string>) =>
    startWorker({
      ...Object.fromEntries(
        Object.keys(process.env).flatMap((name) => (name.startsWith('TEMPORAL_') ? [[name, '']] : [])),
      ),
      AEGIS_ROOT: path.join(dir, 'deploy'),
      AEGIS_TASK_QUEUE: taskQueue,
      ...env,
    });

  /** `plan`, which the worker's pre-flight answers: it refuses a pod the deployment does not run. */
  const expectPlanAnsweredByWorker = async (env: Record<string, string>) => {
    const plan = await aegisUpgrade(['plan', '1.3.0', '--pods', 'database', '--json'], env);
    expect(plan.stderr).not.toContain('Cannot reach');
    const report = JSON.parse(plan.stdout) as UpgradeReport;
    expect(report.phase).toBe('refused');
    // The worker's pre-flight read its checkout (a bare one: pod core alone, no pod file) and refused it.
    expect(report.steps[0]?.detail).toContain('Profile development: pods core; no definition for core');
  };

  const writeProfiles = async (toml: string) => {
    const file = path.join(dir, 'temporal.toml');
    await fs.writeFile(file, toml);
    return file;
  };

  /** A `[profile.NAME.tls]` table with the CA and the client certificate `client`. */
  const tlsTable = (name: string, client: string) => {
    const { cert, key } = certificates.clients[client] ?? { cert: '', key: '' };
    return `[profile.${name}.tls]\nserver_ca_cert_path = "${certificates.ca}"\nclient_cert_path = "${cert}"\nclient_key_path = "${key}"\n`;
  };

  beforeAll(async () => {
    await fs.access(CLI).catch((error: unknown) => {
      throw new Error(`${CLI} is missing: run \`npm run build\` (npm test does it first)`, { cause: error });
    });
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-upgrade-envconfig-'));
    await fs.mkdir(path.join(dir, 'deploy', 'profiles'), { recursive: true });
    await fs.writeFile(path.join(dir, 'deploy', 'profiles', 'development.conf'), 'PODS="core"\n');
    await fs.writeFile(path.join(dir, 'deploy', 'Makefile'), 'redeploy:\n');
    await fs.writeFile(path.join(dir, 'deploy', '.env'), 'AEGIS_IMAGE_TAG=1.2.0\n');
    certificates = await makeCertificates(dir, [WORKER_CERT, CLI_CERT]);
    server = await startDevServer();
    proxy = await startTlsProxy('127.0.0.1', server.address, certificates);
    proxyOnIPv6 = await startTlsProxy('::1', server.address, certificates);
  }, TIMEOUT_MS);

  afterAll(async () => {
    await proxy?.stop();
    await proxyOnIPv6?.stop();
    await server?.stop();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    taskQueue = `envconfig-${Date.now()}`;
  });

  afterEach(async () => {
    await worker?.stop();
    worker = undefined;
  });

  test(
    'worker and CLI connect with a TOML profile alone, the one the temporal CLI reads',
    async () => {
      const file = await writeProfiles(`[profile.aegis]\naddress = "${server.address}"\nnamespace = "default"\n`);
      const env = { TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'aegis' };

      worker = await startAegisWorker(env);
      expect(worker.output()).toContain(`on ${server.address} (address of profile aegis in ${file}, no TLS)`);
      await expectPlanAnsweredByWorker(env);

      const described = await temporal(['operator', 'namespace', 'describe', '--namespace', 'default'], env);
      expect(described.all).toContain('NamespaceInfo.Name');
      expect(described.exitCode).toBe(0);
    },
    TIMEOUT_MS,
  );

  test(
    'worker and CLI connect with mTLS from a profile, each presenting the client certificate of its profile',
    async () => {
      const file = await writeProfiles(
        `[profile.worker]\naddress = "${proxy.address}"\n${tlsTable('worker', WORKER_CERT)}\n` +
          `[profile.cli]\naddress = "${proxy.address}"\n${tlsTable('cli', CLI_CERT)}`,
      );
      proxy.clients.length = 0;

      worker = await startAegisWorker({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'worker' });
      expect(worker.output()).toContain(`on ${proxy.address} (address of profile worker in ${file}, mTLS)`);
      await expectPlanAnsweredByWorker({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'cli' });
      const described = await temporal(['operator', 'namespace', 'describe', '--namespace', 'default'], {
        TEMPORAL_CONFIG_FILE: file,
        TEMPORAL_PROFILE: 'cli',
      });
      expect(described.exitCode).toBe(0);

      expect([...new Set(proxy.clients)].sort()).toEqual([CLI_CERT, WORKER_CERT]);
    },
    TIMEOUT_MS,
  );

  test(
    'worker and CLI connect with mTLS to [::1], checking the certificate against the server name of the profile',
    async () => {
      const file = await writeProfiles(
        `[profile.aegis]\naddress = "${proxyOnIPv6.address}"\n${tlsTable('aegis', WORKER_CERT)}server_name = "localhost"\n`,
      );
      const env = { TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'aegis' };

      worker = await startAegisWorker(env);
      expect(worker.output()).toContain(`on ${proxyOnIPv6.address} (address of profile aegis in ${file}, mTLS)`);
      await expectPlanAnsweredByWorker(env);
    },
    TIMEOUT_MS,
  );

  test(
    'with TEMPORAL_TLS_* the CLI connects with the CA and its certificate, and not without either, nor without TLS',
    async () => {
      const { cert, key } = certificates.clients[CLI_CERT] ?? { cert: '', key: '' };
      const mtls = {
        TEMPORAL_TLS_SERVER_CA_CERT_PATH: certificates.ca,
        TEMPORAL_TLS_CLIENT_CERT_PATH: cert,
        TEMPORAL_TLS_CLIENT_KEY_PATH: key,
      };
      const history = (env: Record<string, string>) =>
        aegisUpgrade(['history'], { TEMPORAL_ADDRESS: proxy.address, ...env });

      const connected = await history(mtls);
      expect(connected.stdout).toBe('No upgrade yet.');
      expect(connected.exitCode).toBe(0);

      // What the CLI lacks, how it describes its connection, and what the TLS endpoint saw: without the CA the CLI
      // does not trust the server and hangs up; without a certificate the endpoint refuses it; without TLS it speaks
      // plain HTTP/2 to a TLS endpoint.
      const refused: [string, Record<string, string>, RegExp][] = [
        [
          'mTLS',
          { TEMPORAL_TLS_CLIENT_CERT_PATH: cert, TEMPORAL_TLS_CLIENT_KEY_PATH: key },
          /socket hang up|unknown ca|certificate unknown|bad certificate/,
        ],
        ['TLS', { TEMPORAL_TLS_SERVER_CA_CERT_PATH: certificates.ca }, /peer did not return a certificate/],
        ['no TLS', {}, /wrong version number/],
      ];
      for (const [security, env, reason] of refused) {
        proxy.refusals.length = 0;
        const result = await history(env);
        expect(result.stderr).toContain(
          `aegis-upgrade: Cannot reach the Temporal server at ${proxy.address} (TEMPORAL_ADDRESS, ${security}): `,
        );
        expect(result.exitCode).toBe(3);
        expect(proxy.refusals.join('\n')).toMatch(reason);
      }
    },
    TIMEOUT_MS,
  );
});

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { DoctorCheck } from '../../../src/core/doctor';
import {
  checkEnvFile,
  checkMakeTargets,
  checkoutChecks,
  checkProfile,
  checkRegistryCredentials,
} from '../../../src/host/doctor/checkout';
import { deployReference } from '../../helpers/deploy-reference';
import { REPO_ROOT } from '../../helpers/repo';
import { writeSandboxCheckout } from '../../helpers/sandbox-pods';

const byName = (checks: DoctorCheck[], name: string) => checks.find((check) => check.name === name);

const reference = deployReference();

(reference ? describe : describe.skip)(
  "doctor's file checks on the real deploy checkout (aegis-deploy, unchanged)",
  () => {
    const root = reference ?? '';
    const pods = ['core', 'database', 'edge', 'observability', 'seal-gateway', 'secrets', 'storage', 'temporal'];

    it('names every pod, and understands every definition', async () => {
      const checks = (await checkoutChecks({ root, profile: 'full' })).checks;
      const podChecks = checks.filter((check) => check.name.startsWith('Pod '));

      expect(podChecks.map((check) => check.name)).toEqual(pods.map((pod) => `Pod ${pod}`));
      for (const check of podChecks) {
        expect(check.detail).not.toContain('not understood');
        expect(check.status).not.toBe('blocked');
      }
    });

    it("says what it found in each definition: the database's named volume, PgBouncer, the moving tags", async () => {
      const checks = (await checkoutChecks({ root, profile: 'full' })).checks;
      const database = byName(checks, 'Pod database');

      expect(database?.detail).toContain(
        'postgres /var/lib/postgresql/data on the named volume aegis-postgres-data (persistentVolumeClaim of volume postgres-data)',
      );
      expect(database?.detail).toContain('pgbouncer docker.io/edoburu/pgbouncer:latest');
      expect(database?.detail).toContain('ports: 5432, 9187, 5433');
      expect(database).toMatchObject({ status: 'warning', fix: expect.stringContaining('pin a version tag') });
      expect(byName(checks, 'Pod core')).toMatchObject({ status: 'ok' });
      expect(byName(checks, 'Pod core')?.detail).toContain(
        'aegis-runtime ghcr.io/100monkeys-ai/aegis-runtime:${AEGIS_IMAGE_TAG}',
      );
      // edge is in no profile: named, understood, and said to be outside the profile.
      expect(byName(checks, 'Pod edge')?.detail).toMatch(/^not in the profile; caddy /);
    });

    it("reads each profile's pods, each with its definition", async () => {
      const full = await checkProfile({ root, profile: 'full' });
      expect(full.pods).toEqual([
        'database',
        'secrets',
        'storage',
        'temporal',
        'seal-gateway',
        'core',
        'observability',
      ]);
      expect(full.check.status).toBe('ok');
      expect((await checkProfile({ root, profile: 'development' })).check.status).toBe('ok');
    });

    it('finds every make target an upgrade runs, install-cli too', async () => {
      expect(await checkMakeTargets(root)).toEqual({
        name: 'Make targets',
        status: 'ok',
        detail: 'registry-login, redeploy, validate, teardown, deploy, bootstrap-secrets, install-cli',
      });
    });

    it('says .env is missing (the snapshot has none) and how to make it from .env.example', async () => {
      expect(await checkEnvFile(root)).toMatchObject({
        status: 'blocked',
        detail: expect.stringContaining('no .env in'),
        fix: expect.stringContaining('install -m 600 .env.example .env'),
      });
    });
  },
);

describe("doctor's file checks on the sandbox's deploy checkout (sandbox/deploy, as sandbox.sh writes it)", () => {
  let root: string;
  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-doctor-sandbox-'));
    await writeSandboxCheckout(root);
  });
  afterAll(() => fs.rm(root, { recursive: true, force: true }));

  it('names every pod it defines, understands each, and finds the targets and keys an upgrade needs', async () => {
    const checks = (await checkoutChecks({ root, profile: 'development' })).checks;
    const pods = await fs.readdir(path.join(REPO_ROOT, 'sandbox', 'deploy', 'podman', 'pods'));

    expect(checks.filter((check) => check.name.startsWith('Pod ')).map((check) => check.name)).toEqual(
      pods.sort().map((pod) => `Pod ${pod}`),
    );
    expect(checks.filter((check) => check.status === 'blocked')).toEqual([]);
    expect(byName(checks, 'Profile development')?.status).toBe('ok');
    expect(byName(checks, 'Pod core')?.detail).toContain(
      'aegis-runtime 127.0.0.1:5000/100monkeys-ai/aegis-runtime:${AEGIS_IMAGE_TAG}',
    );
  });
});

describe("doctor's file checks on a checkout written here", () => {
  let root: string;
  const write = async (file: string, text: string) => {
    await fs.mkdir(path.dirname(path.join(root, file)), { recursive: true });
    await fs.writeFile(path.join(root, file), text);
  };
  const CORE = [
    'metadata:',
    '  name: aegis-core',
    'spec:',
    '  containers:',
    '    - name: aegis-runtime',
    '      image: registry.example/aegis-runtime:${AEGIS_IMAGE_TAG}',
    '      volumeMounts:',
    '        - name: config',
    '          mountPath: /etc/aegis',
    '  volumes:',
    '    - name: config',
    '      hostPath:',
    '        path: /srv/aegis/config',
    '',
  ].join('\n');

  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-doctor-'));
    await write('profiles/minimal.conf', 'PODS="database core"\n');
    await write('podman/pods/core/pod-core.yaml', CORE);
  });
  afterEach(() => fs.rm(root, { recursive: true, force: true }));

  it('blocks a profile pod without a definition, and names the file make redeploy would look for', async () => {
    const { check } = await checkProfile({ root, profile: 'minimal' });

    expect(check.status).toBe('blocked');
    expect(check.detail).toContain('no definition for database (podman/pods/database/pod-database.yaml)');
  });

  it('blocks a profile that does not exist, listing those that do', async () => {
    const { check } = await checkProfile({ root, profile: 'production' });

    expect(check).toMatchObject({ status: 'blocked', fix: expect.stringContaining('AEGIS_PROFILE') });
    expect(check.fix).toContain(': minimal');
  });

  it('blocks a definition the upgrade would not understand: a pinned AEGIS tag, an undeclared volume', async () => {
    await write(
      'podman/pods/core/pod-core.yaml',
      CORE.replace('${AEGIS_IMAGE_TAG}', '1.2.0').replace(
        '- name: config\n      hostPath',
        '- name: other\n      hostPath',
      ),
    );

    const checks = (await checkoutChecks({ root, profile: 'minimal' })).checks;
    const core = byName(checks, 'Pod core');

    expect(core?.status).toBe('blocked');
    expect(core?.detail).toContain("aegis-runtime's tag is 1.2.0, not ${AEGIS_IMAGE_TAG}");
    expect(core?.detail).toContain(
      'volume config, mounted at /etc/aegis by aegis-runtime, is not declared under spec.volumes',
    );
  });

  it('blocks YAML that does not parse, naming the file', async () => {
    await write('podman/pods/core/pod-core.yaml', 'spec:\n  containers: [\n');

    const core = byName((await checkoutChecks({ root, profile: 'minimal' })).checks, 'Pod core');

    expect(core?.status).toBe('blocked');
    expect(core?.detail).toContain('podman/pods/core/pod-core.yaml is not valid YAML');
  });

  it("blocks a Makefile without redeploy; warns of one without the full strategy's targets", async () => {
    await write('Makefile', 'registry-login:\n\t@true\nvalidate redeploy: registry-login\n\t@true\nPODS_DIR := x\n');
    expect(await checkMakeTargets(root)).toMatchObject({
      status: 'warning',
      detail: expect.stringContaining('missing teardown (the full strategy)'),
    });
    await write('Makefile', '.PHONY: redeploy\nregistry-login:\n\t@true\n');
    expect(await checkMakeTargets(root)).toMatchObject({
      status: 'blocked',
      detail: expect.stringMatching(/^missing redeploy \(.*\), validate \(/),
    });
  });

  it('blocks an empty GHCR_TOKEN, warns of keys of .env.example missing from .env, and never shows a value', async () => {
    await write('.env.example', 'GHCR_USERNAME=\nGHCR_TOKEN=\nPOSTGRES_PASSWORD=\nOPENBAO_ROLE_ID=\n');
    await write('.env', 'GHCR_USERNAME=operator\nGHCR_TOKEN=\nPOSTGRES_PASSWORD=s3cret-value\n');
    const blocked = await checkRegistryCredentials(root);
    expect(blocked).toMatchObject({ status: 'blocked', fix: 'set GHCR_TOKEN in .env (a token with read:packages)' });

    await write('.env', 'GHCR_USERNAME=operator\nGHCR_TOKEN=ghp_abc\nPOSTGRES_PASSWORD=s3cret-value\n');
    expect(await checkRegistryCredentials(root)).toMatchObject({ status: 'ok' });
    await fs.chmod(path.join(root, '.env'), 0o644);
    const warned = await checkEnvFile(root);
    expect(warned.status).toBe('warning');
    expect(warned.detail).toContain('keys of .env.example not in .env: OPENBAO_ROLE_ID');
    expect(warned.detail).toContain('AEGIS_IMAGE_TAG (the version running; unset reads as latest)');
    expect(warned.detail).toContain('readable by others than its owner (mode 644)');
    expect(warned.fix).toBe('add the keys to .env, as .env.example describes them; chmod 600 .env');
    expect(JSON.stringify([blocked, warned])).not.toMatch(/s3cret|ghp_abc|operator/);

    await fs.chmod(path.join(root, '.env'), 0o600);
    await write('.env.example', 'GHCR_USERNAME=\n');
    await write(
      '.env',
      'GHCR_USERNAME=operator\nGHCR_TOKEN=ghp_abc\nPOSTGRES_PASSWORD=x\nPOSTGRES_USER=aegis\nAEGIS_IMAGE_TAG=1.2.0\n',
    );
    expect(await checkEnvFile(root)).toEqual({
      name: '.env',
      status: 'ok',
      detail: 'AEGIS_IMAGE_TAG, POSTGRES_USER, POSTGRES_PASSWORD set; every key of .env.example present',
    });
  });
});

import { execa } from 'execa';
import {
  KNOWN_NOISE,
  deployedHostPorts,
  parseValidateOutput,
  servicesNotDeployed,
  validationFailures,
} from '../src/activities/validation';
import type { Deployment } from '../src/host/deployment';
import { judgeMigrationLog } from '../src/activities/migrations';
import { backupsIn, commandLog, imageTag, psql, runningImages, usePlatform } from './helpers/platform';
import { aegisPodsListed } from './helpers/platform-user';
import { sandbox } from './helpers/sandbox';

/** The bench every other test stands on: a real Temporal server and the sandbox platform, as the issue describes. */
describe('the test bench', () => {
  const platform = usePlatform();

  test('the Temporal dev server answers', async () => {
    const { stdout } = await execa('bash', [
      'scripts/temporal.sh',
      'operator',
      'cluster',
      'health',
      '--address',
      platform.server.address,
    ]);
    expect(stdout).toContain('SERVING');
  });

  test('the sandbox comes up at 1.2.0 and make validate passes but for the known noise', async () => {
    await sandbox('reset');
    expect(await imageTag(platform.root)).toBe('1.2.0');
    // The records "nothing changed" is read from: there, and empty.
    expect(await backupsIn(platform.root)).toEqual([]);
    expect(await commandLog(platform.env)).toEqual([]);
    const { stdout, exitCode } = await execa('make', ['-C', platform.root, 'validate']);
    expect(exitCode).toBe(0);
    const lines = parseValidateOutput(stdout);
    expect(lines.map((line) => line.service)).toEqual(
      expect.arrayContaining(['AEGIS Runtime', 'SEAL Gateway', ...KNOWN_NOISE]),
    );
    // As on a real platform, it probes services the profile does not run: those are not judged, the others all are.
    const profile = platform.env.AEGIS_PROFILE ?? 'development';
    const ports = await deployedHostPorts({ root: platform.root, config: { aegis: { profile } } } as Deployment);
    expect(servicesNotDeployed(lines, ports)).toEqual(['Keycloak', 'OpenBao', 'SeaweedFS Master', 'SeaweedFS Filer']);
    expect(validationFailures(lines, ports)).toEqual([]);
    expect(validationFailures(lines).map((line) => line.service)).toEqual(servicesNotDeployed(lines, ports));
    expect(Object.values(await runningImages())).toContain(`${platform.env.AEGIS_REGISTRY}/aegis-runtime:1.2.0`);
    expect(Number(await psql('select count(*) from _sqlx_migrations'))).toBe(3);
    // Rootless, as the real platform: the pods are the platform user's, and root's podman sees none of them.
    expect(await aegisPodsListed('the platform user')).toEqual([
      'aegis-core',
      'aegis-database',
      'aegis-observability',
      'aegis-seal-gateway',
      'aegis-secrets',
      'aegis-temporal',
    ]);
    expect(await aegisPodsListed('root')).toEqual([]);
  }, 300_000);

  test('up re-creates an aegis-network made without DNS, and the runtime finds the database by name again', async () => {
    await execa('podman', ['network', 'rm', '--force', '--time', '2', 'aegis-network']);
    await execa('podman', ['network', 'create', '--disable-dns', 'aegis-network']);
    await sandbox('up');
    const dns = await execa('podman', ['network', 'inspect', '--format', '{{.DNSEnabled}}', 'aegis-network']);
    expect(dns.stdout).toBe('true');
    // The runtime's readiness answers only once it has reached aegis-database:5433 (PgBouncer) by name.
    const ready = await fetch(`${platform.env.AEGIS_RUNTIME_URL}/health/ready`);
    expect(await ready.json()).toMatchObject({ status: 'ready' });
  }, 300_000);

  test('make redeploy POD=core at 1.3.0 applies the migration and logs it; reset brings back 1.2.0', async () => {
    await execa('sed', ['-i', 's/^AEGIS_IMAGE_TAG=.*/AEGIS_IMAGE_TAG=1.3.0/', `${platform.root}/.env`]);
    const since = new Date().toISOString();
    await execa('make', ['-C', platform.root, 'redeploy', 'POD=core']);
    let log = '';
    for (let attempt = 0; attempt < 60 && judgeMigrationLog(log).state === 'pending'; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      log = (await execa('podman', ['logs', '--since', since, 'aegis-core-aegis-runtime'], { all: true })).all ?? '';
    }
    expect(log).toContain('Applying pending migrations...');
    expect(judgeMigrationLog(log)).toEqual({
      state: 'succeeded',
      line: expect.stringContaining('Database migrations applied successfully'),
    });
    expect(Number(await psql('select count(*) from _sqlx_migrations where success'))).toBe(4);

    await sandbox('reset');
    expect(await imageTag(platform.root)).toBe('1.2.0');
    expect(Number(await psql('select count(*) from _sqlx_migrations'))).toBe(3);
    expect(Object.values(await runningImages())).toContain(`${platform.env.AEGIS_REGISTRY}/aegis-runtime:1.2.0`);
  }, 300_000);
});

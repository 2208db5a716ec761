import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { RunCommand } from '../../../src/host/command';
import { CommandFailed } from '../../../src/core/errors';
import { parsePodDefinition } from '../../../src/host/pod-definitions';
import { backupSpaceCheck, pgbouncerOf, postgresVersionCheck } from '../../../src/host/doctor/database';
import { podmanModeCheck, podsRunningCheck } from '../../../src/host/doctor/podman';
import { runDoctor } from '../../../src/host/doctor';
import { checkHostBinary } from '../../../src/host/doctor/host-binary';
import { createDeployment } from '../../../src/host/deployment';
import { loadConfig } from '../../../src/config';
import { writeSandboxCheckout } from '../../helpers/sandbox-pods';

describe('the podman check', () => {
  const aegis = { name: 'aegis', uid: 1000 };
  const root = { name: 'root', uid: 0 };

  it("passes rootless podman run by the checkout's owner", () => {
    expect(podmanModeCheck({ rootless: true, user: aegis, owner: aegis })).toEqual({
      name: 'Podman',
      status: 'ok',
      detail: 'rootless podman as aegis (uid 1000), who owns the checkout and the pods',
    });
  });

  it("blocks root's podman on a rootless platform's checkout: it sees none of its pods; the fix names the user", () => {
    const check = podmanModeCheck({ rootless: false, user: root, owner: aegis });

    expect(check.status).toBe('blocked');
    expect(check.detail).toContain('rootful podman as root, but the checkout belongs to aegis (uid 1000)');
    expect(check.fix).toContain('sudo -iu aegis aegis-upgrade doctor');
  });

  it("is pre-flight's without asking podman: the worker runs as the checkout's owner, or is refused", () => {
    expect(podmanModeCheck({ user: root, owner: aegis }).detail).toMatch(
      /^running as root \(uid 0\), but the checkout belongs to aegis \(uid 1000\)/,
    );
    expect(podmanModeCheck({ user: aegis, owner: aegis }).status).toBe('ok');
  });
});

describe('the pods against the profile', () => {
  const pods = ['database', 'core'];

  it('passes when every pod of the profile runs', () => {
    const listed = [
      { Name: 'aegis-database', Status: 'Running' },
      { Name: 'aegis-core', Status: 'Running' },
    ];
    expect(podsRunningCheck('minimal', pods, listed).status).toBe('ok');
  });

  it('blocks a pod down or absent, naming its redeploy', () => {
    const check = podsRunningCheck('minimal', pods, [{ Name: 'aegis-database', Status: 'Degraded' }]);

    expect(check.detail).toMatch(/^aegis-database Degraded, aegis-core absent/);
    expect(check.fix).toContain('make deploy PROFILE=minimal');
  });

  it('warns of an AEGIS pod running outside the profile: the profile may be the wrong one', () => {
    const listed = [
      { Name: 'aegis-database', Status: 'Running' },
      { Name: 'aegis-core', Status: 'Running' },
      { Name: 'aegis-storage', Status: 'Running' },
    ];
    const check = podsRunningCheck('minimal', pods, listed);

    expect(check).toMatchObject({ status: 'warning', fix: expect.stringContaining('AEGIS_PROFILE') });
    expect(check.detail).toContain('aegis-storage');
  });
});

describe('PostgreSQL and the backup', () => {
  it('blocks a PostgreSQL older than AEGIS needs, and says how to upgrade it', () => {
    expect(postgresVersionCheck({ number: 140011, text: '14.11' })).toMatchObject({
      status: 'blocked',
      detail: '14.11 is too old: AEGIS needs 15+',
      fix: 'upgrade it first: aegis-upgrade component start postgres 15',
    });
    expect(postgresVersionCheck({ number: 150008, text: '15.8' }).detail).toBe('15.8 (15+ required)');
  });

  it('blocks a backup directory without room for the databases', () => {
    const space = { backupDir: '/srv/backups', freeBytes: 1024 ** 2, databaseBytes: 2 * 1024 ** 2 };
    expect(backupSpaceCheck(space)).toMatchObject({
      status: 'blocked',
      detail: 'not enough space for the backup in /srv/backups: 1.0 MiB free, up to 2.0 MiB needed',
    });
  });

  it("finds PgBouncer in the database pod's definition, and the host port it listens on", () => {
    const yaml = [
      'spec:',
      '  containers:',
      '    - name: postgres',
      '      image: docker.io/postgres:15-alpine',
      '      ports: [{ containerPort: 5432, hostPort: 5432 }]',
      '    - name: pgbouncer',
      '      image: docker.io/edoburu/pgbouncer:latest',
      '      ports: [{ containerPort: 5433, hostPort: 15433 }]',
    ].join('\n');

    expect(pgbouncerOf(parsePodDefinition(yaml, 'pod-database.yaml'))).toEqual({
      container: 'pgbouncer',
      hostPort: 15433,
    });
    expect(pgbouncerOf(parsePodDefinition(yaml.split('\n').slice(0, 5).join('\n'), 'x'))).toBeUndefined();
  });
});

describe('the host aegis binary against the runtime', () => {
  let root: string;
  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-doctor-binary-'));
    await fs.writeFile(path.join(root, 'Makefile'), 'install-cli:\n\t@true\n');
    await fs.mkdir(path.join(root, 'bin'));
    await fs.writeFile(path.join(root, 'bin', 'aegis'), '');
  });
  afterAll(() => fs.rm(root, { recursive: true, force: true }));

  /** `bin/aegis --version` says `host`; the runtime container's binary says `runtime`, or fails. */
  const check = (host: string, runtime: string | Error) => {
    const run: RunCommand = async (file, args) => {
      if (file.endsWith('/bin/aegis')) return { stdout: host, stderr: '' };
      if (args[0] === 'ps') return { stdout: 'aegis-core-aegis-runtime r/aegis-runtime:1.3.0', stderr: '' };
      if (runtime instanceof Error) throw runtime;
      return { stdout: runtime, stderr: '' };
    };
    const deployment = createDeployment({ config: loadConfig({ AEGIS_ROOT: root }), run });
    return checkHostBinary({ deployment, run, pods: ['core'] });
  };

  it('passes when both say the same, warns when they differ, naming make install-cli', async () => {
    expect(await check('aegis 1.3.0', 'aegis 1.3.0')).toMatchObject({
      status: 'ok',
      detail: 'bin/aegis says aegis 1.3.0, as the runtime (r/aegis-runtime:1.3.0) does',
    });
    expect(await check('aegis 1.2.0', 'aegis 1.3.0')).toMatchObject({
      status: 'warning',
      detail: 'bin/aegis says aegis 1.2.0; the runtime (r/aegis-runtime:1.3.0) says aegis 1.3.0',
      fix: expect.stringContaining('make install-cli'),
    });
  });

  it('never blocks an upgrade: a runtime that cannot say its version is a warning', async () => {
    const failed = new CommandFailed('podman exec aegis-core-aegis-runtime', 125, 'unknown flag: --version');

    expect(await check('aegis 1.3.0', failed)).toMatchObject({ status: 'warning', fix: 'make install-cli' });
  });
});

describe('runDoctor on a host where nothing answers', () => {
  let root: string;
  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-doctor-live-'));
    await writeSandboxCheckout(root);
  });
  afterAll(() => fs.rm(root, { recursive: true, force: true }));

  /** No podman, no systemctl: every program fails as a missing one does. */
  const nothing: RunCommand = async (file, args) => {
    throw new CommandFailed([file, ...args].join(' '), undefined, `${file}: not found`);
  };

  it('reports each live check it could not make as blocked or a warning, with a fix, and never throws', async () => {
    const report = await runDoctor({
      root,
      profile: 'development',
      variables: { TEMPORAL_ADDRESS: '127.0.0.1:1', AEGIS_POSTGRES_PORT: '1' },
      run: nothing,
    });
    const live = report.checks.slice(report.checks.findIndex((check) => check.name === 'Podman'));

    expect(live.map((check) => check.name)).toEqual([
      'Podman',
      'Pods running',
      'Registry login',
      'Disk',
      'PostgreSQL',
      'PostgreSQL extensions',
      'PgBouncer',
      'Host aegis binary',
      'FUSE daemon',
      'Temporal',
    ]);
    expect(report.blocked).toBe(true);
    for (const check of live) {
      expect(check.status).not.toBe('ok');
      if (check.status !== 'not-applicable') expect(check.fix).toBeTruthy();
    }
    expect(live.find((check) => check.name === 'Podman')?.detail).toContain('podman: not found');
    // The sandbox's checkout has the FUSE daemon's unit, and no systemctl answers: a warning with the fix. Its
    // install-cli has not run yet: no bin/aegis, a warning with the fix.
    expect(live.find((check) => check.name === 'FUSE daemon')).toMatchObject({
      status: 'warning',
      detail: expect.stringContaining('systemctl --user does not answer'),
    });
    expect(live.find((check) => check.name === 'Host aegis binary')).toMatchObject({
      status: 'warning',
      fix: expect.stringContaining('make install-cli'),
    });
  }, 60_000);

  it('runs only the file checks with filesOnly: nothing is run', async () => {
    const run = jest.fn(nothing);
    const report = await runDoctor({ root, profile: 'development', variables: {}, filesOnly: true, run });

    expect(run).not.toHaveBeenCalled();
    expect(report.checks.map((check) => check.name)).not.toContain('Podman');
    expect(report.blocked).toBe(false);
  });

  it('says a setting the live checks need is wrong, as the worker would', async () => {
    const report = await runDoctor({
      root,
      profile: 'development',
      variables: { AEGIS_REGISTRY: 'Not A Registry' },
      run: nothing,
    });

    expect(report.checks.at(-1)).toMatchObject({ name: 'Configuration', status: 'blocked' });
    expect(report.checks.at(-1)?.detail).toContain('AEGIS_REGISTRY');
  });
});

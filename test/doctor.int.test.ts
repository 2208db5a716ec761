import { execa } from 'execa';
import type { DoctorReport } from '../src/core/doctor';
import { runDoctor } from '../src/host/doctor';
import { usePlatform } from './helpers/platform';
import { REPO_ROOT } from './helpers/repo';
import { asCheckoutOwner } from './helpers/worker-process';
import { sandbox } from './helpers/sandbox';

/** `aegis-upgrade doctor` on the sandbox platform, as an operator runs it on the AEGIS host: live checks and all. */
describe('aegis-upgrade doctor on the sandbox', () => {
  const platform = usePlatform();
  const profile = () => platform.env.AEGIS_PROFILE ?? 'development';

  /** The built CLI, as installed, run as the platform's user (the checkout's owner); its JSON report and exit code. */
  async function doctorCli(): Promise<{ exitCode: number | undefined; report: DoctorReport }> {
    const { command, env } = asCheckoutOwner(
      {
        file: 'node',
        args: ['bin/aegis-upgrade.js', 'doctor', '--root', platform.root, '--aegis-profile', profile(), '-o', 'json'],
      },
      platform.env,
    );
    const { stdout, exitCode } = await execa(command.file, command.args, { cwd: REPO_ROOT, env, reject: false });
    return { exitCode, report: JSON.parse(stdout) as DoctorReport };
  }

  test('finds nothing that blocks an upgrade on the healthy platform, and names each pod of the profile', async () => {
    await sandbox('up');
    const { exitCode, report } = await doctorCli();

    expect(report.checks.filter((check) => check.status === 'blocked')).toEqual([]);
    expect(report.checks.map((check) => check.name)).toEqual(
      expect.arrayContaining(['Pod database', 'Pod core', 'Podman', 'Pods running', 'PostgreSQL', 'Temporal']),
    );
    expect(report.checks.find((check) => check.name === 'Pods running')?.status).toBe('ok');
    // The worker's server is the test's dev server, not the platform's pod temporal.
    expect(report.checks.find((check) => check.name === 'Temporal')?.detail).toContain("it is not the platform's");
    expect(exitCode).toBe(0);
  }, 300_000);

  test("run as root, it says the pods are the platform user's and whom to run it as", async () => {
    const asRoot = await runDoctor({ root: platform.root, profile: profile(), variables: platform.env });
    expect(asRoot.checks.find((check) => check.name === 'Podman')).toMatchObject({
      status: 'blocked',
      fix: expect.stringMatching(/User=\S+/),
    });
  }, 300_000);

  test('exits 1 naming a pod of the profile that is down, and the redeploy that brings it back', async () => {
    await execa('podman', ['pod', 'stop', '-t', '5', 'aegis-observability']);
    try {
      const { exitCode, report } = await doctorCli();

      expect(exitCode).toBe(1);
      expect(report.checks.find((check) => check.name === 'Pods running')).toMatchObject({
        status: 'blocked',
        detail: expect.stringContaining('aegis-observability'),
        fix: expect.stringContaining('make redeploy POD=observability'),
      });
    } finally {
      await sandbox('up');
    }
  }, 300_000);
});

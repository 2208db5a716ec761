/**
 * restartUnit on the sandbox's `systemctl --user` (sandbox/host/bin/systemctl, the stand-in these machines need: they
 * run no systemd), with units of a throw-away user directory: a daemon that stays up, and one that keeps failing.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DaemonNotRunning } from '../../src/core/errors';
import { createCommandRunner } from '../../src/host/command';
import {
  restartUnit,
  unitEnvironment,
  unitState,
  unitVariables,
  type UnitState,
  type UserSystemctl,
} from '../../src/host/user-units';
import { activityEnvironment } from '../helpers/activity-environment';
import { SANDBOX_HOST_BIN } from '../helpers/sandbox';
import { freePort } from '../helpers/temporal-server';

let home: string;
let systemctl: UserSystemctl;

beforeAll(async () => {
  home = await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-user-units-'));
  await fs.mkdir(path.join(home, '.config', 'systemd', 'user'), { recursive: true });
  await fs.mkdir(path.join(home, 'run'), { mode: 0o700 });
  const run = createCommandRunner(async () => []);
  const env = { HOME: home, XDG_RUNTIME_DIR: path.join(home, 'run'), PATH: process.env.PATH ?? '' };
  systemctl = (args, options) =>
    run(path.join(SANDBOX_HOST_BIN, 'systemctl'), ['--user', ...args], { ...options, env });
});

afterAll(async () => {
  for (const unit of ['steady', 'failing', 'listening']) await systemctl(['stop', unit]).catch(() => undefined);
  await fs.rm(home, { recursive: true, force: true });
});

/** As an activity runs it: its waits heartbeat. */
const restart = (
  unit: string,
  options: Parameters<typeof restartUnit>[2],
): Promise<UnitState & { listening?: string }> => activityEnvironment().run(restartUnit, systemctl, unit, options);

async function writeUnit(name: string, command: string, environment = ''): Promise<void> {
  const unit = `[Service]\n${environment}ExecStart=/bin/sh -c '${command}'\nRestart=always\nRestartSec=0.2\n`;
  await fs.writeFile(path.join(home, '.config', 'systemd', 'user', `${name}.service`), unit);
}

describe('restartUnit', () => {
  it('returns once the restarted unit keeps one main process, a new one', async () => {
    await writeUnit('steady', 'echo up; exec sleep 600');
    await systemctl(['start', 'steady']);
    const before = await unitState(systemctl, 'steady');

    const state = await restart('steady', { steadyMs: 500, timeoutMs: 10_000 });

    expect(state).toMatchObject({ load: 'loaded', active: 'active', sub: 'running', restarts: 0 });
    expect(state.mainPid).toBeGreaterThan(0);
    expect(state.mainPid).not.toBe(before.mainPid);
  }, 30_000);

  it('fails with DaemonNotRunning and its last lines when the unit keeps failing (Restart=always)', async () => {
    await writeUnit('failing', 'echo cannot mount the FUSE prefix >&2; exit 1');

    const failure = await restart('failing', { steadyMs: 1_000, timeoutMs: 30_000 }).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(DaemonNotRunning);
    expect((failure as Error).message).toMatch(
      /^failing (activating|active) .*restarted \d+ times by systemd: keeps failing/,
    );
    expect((failure as Error).message).toContain('cannot mount the FUSE prefix');
    expect((await unitState(systemctl, 'failing')).restarts).toBeGreaterThanOrEqual(2);
  }, 30_000);

  it('returns once the restarted unit answers on its listening address, and says so', async () => {
    const port = await freePort();
    await writeUnit('listening', `exec busybox httpd -f -p 127.0.0.1:${port} -h ${home}`);
    await systemctl(['start', 'listening']);

    // A steady window longer than the timeout: only the connection accepted can end the wait without a failure.
    const state = await restart('listening', {
      steadyMs: 600_000,
      timeoutMs: 30_000,
      listenAddress: `127.0.0.1:${port}`,
    });

    expect(state).toMatchObject({ active: 'active', sub: 'running', listening: `127.0.0.1:${port}` });
  }, 60_000);

  it("reads the unit's own Environment= through systemctl show, quoted values whole", async () => {
    await writeUnit(
      'listening',
      'exec sleep 600',
      'Environment=RUST_LOG=info\nEnvironment=AEGIS_FUSE_DAEMON_LISTEN_ADDR=0.0.0.0:50053 "GREETING=two words"\n',
    );

    expect(await unitVariables(systemctl, 'listening')).toEqual(
      new Map([
        ['RUST_LOG', 'info'],
        ['AEGIS_FUSE_DAEMON_LISTEN_ADDR', '0.0.0.0:50053'],
        ['GREETING', 'two words'],
      ]),
    );
  });

  it('tells a unit that is not installed', async () => {
    expect((await unitState(systemctl, 'absent')).load).toBe('not-found');
  });
});

describe('unitEnvironment', () => {
  it('reads blank-separated assignments, a quoted one whole, an escaped quote inside it', () => {
    expect(unitEnvironment('A=1 B=0.0.0.0:50053  "C=two words" "D=say \\"hi\\""')).toEqual(
      new Map([
        ['A', '1'],
        ['B', '0.0.0.0:50053'],
        ['C', 'two words'],
        ['D', 'say "hi"'],
      ]),
    );
  });

  it('is empty for a unit without Environment=', () => {
    expect(unitEnvironment('')).toEqual(new Map());
  });
});

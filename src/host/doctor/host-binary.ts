/**
 * The host's `aegis` binary, which `make install-cli` takes out of the runtime image (into `bin/aegis`), and the FUSE
 * daemon, a user unit running it: both should be the release the runtime runs.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { firstLine, notApplicable, passed, warned, type DoctorCheck } from '../../core/doctor';
import { HOST_CLI, RUNTIME_CONTAINER } from '../../core/platform';
import { makeTargets } from '../makefile';
import { unitProperties } from '../user-units';
import { LOOK_TIMEOUT_MS, guarded, type LiveContext } from './context';

const { binary: HOST_BINARY, imageBinary: IMAGE_BINARY, unit: FUSE_UNIT, unitFile: FUSE_UNIT_FILE } = HOST_CLI;

const exists = (file: string) =>
  fs.access(file).then(
    () => true,
    () => false,
  );

export const checkHostBinary = ({ deployment, run }: LiveContext) =>
  guarded(
    'Host aegis binary',
    'make install-cli',
    async (): Promise<DoctorCheck> => {
      const name = 'Host aegis binary';
      const binary = path.join(deployment.root, HOST_BINARY);
      const makefile = await fs.readFile(path.join(deployment.root, 'Makefile'), 'utf8').catch(() => '');
      const installs = makeTargets(makefile).has('install-cli');
      if (!(await exists(binary))) {
        return installs
          ? warned(name, `no ${HOST_BINARY}`, 'make install-cli: it takes the binary out of the runtime image')
          : notApplicable(name, `this checkout installs none (no ${HOST_BINARY}, no install-cli target)`);
      }
      const host = (await run(binary, ['--version'], { timeoutMs: LOOK_TIMEOUT_MS })).stdout.trim();
      const image = (await deployment.runningImages())[RUNTIME_CONTAINER];
      if (!image) {
        return warned(
          name,
          `${HOST_BINARY} says ${host}; ${RUNTIME_CONTAINER} does not run to compare`,
          'make redeploy POD=core',
        );
      }
      const runtime = (
        await deployment.podman(['exec', RUNTIME_CONTAINER, IMAGE_BINARY, '--version'], { timeoutMs: LOOK_TIMEOUT_MS })
      ).stdout.trim();
      if (host !== runtime) {
        return warned(
          name,
          `${HOST_BINARY} says ${host}; the runtime (${image}) says ${runtime}`,
          'make install-cli: it takes the binary out of the runtime image and restarts the FUSE daemon',
        );
      }
      return passed(name, `${HOST_BINARY} says ${host}, as the runtime (${image}) does`);
    },
    warned,
  );

export async function checkFuseDaemon({ deployment, run }: LiveContext): Promise<DoctorCheck> {
  const name = 'FUSE daemon';
  if (!(await exists(path.join(deployment.root, FUSE_UNIT_FILE)))) {
    return notApplicable(name, `this checkout runs none (no ${FUSE_UNIT_FILE})`);
  }
  const restart = `systemctl --user restart ${FUSE_UNIT} (make install-cli restarts it too)`;
  let shown: Map<string, string>;
  try {
    const { stdout } = await run('systemctl', ['--user', 'show', FUSE_UNIT, '--property=ActiveState,MainPID'], {
      timeoutMs: LOOK_TIMEOUT_MS,
    });
    shown = unitProperties(stdout);
  } catch (error) {
    return warned(
      name,
      `systemctl --user does not answer: ${firstLine(error)}`,
      "run doctor as the platform's user, with XDG_RUNTIME_DIR=/run/user/$(id -u) (loginctl enable-linger <user>)",
    );
  }
  const state = shown.get('ActiveState') ?? 'unknown';
  const pid = shown.get('MainPID') ?? '0';
  if (state !== 'active') return warned(name, `${FUSE_UNIT} is ${state}`, restart);
  const executable = await fs.readlink(`/proc/${pid}/exe`).catch(() => undefined);
  // install-cli renames the new binary over the old: a daemon started before runs the old one, now unlinked.
  if (executable?.endsWith(' (deleted)')) {
    return warned(name, `${FUSE_UNIT} (pid ${pid}) runs a binary replaced since it started: ${executable}`, restart);
  }
  return passed(name, `${FUSE_UNIT} active (pid ${pid})${executable ? `, running ${executable}` : ''}`);
}

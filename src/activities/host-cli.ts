/**
 * The host's `aegis` binary and the FUSE daemon that runs it (docs/host-cli.md). `make redeploy POD=core` touches
 * neither, so after the runtime is upgraded the upgrade does what `make install-cli` does: the new release's binary out
 * of the runtime image into `bin/aegis`, then the daemon restarted on it. The binary the upgrade found is kept in the
 * backup first, for the rollback to put back.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { valid } from 'semver';
import { HOST_CLI } from '../core/platform';
import { InvalidActivityInput } from '../core/errors';
import type { HostCliResult, KeptHostCli } from '../core/upgrade';
import type { Deployment } from '../host/deployment';
import { privateDirectory } from '../host/dump-files';
import { heartbeatWhile } from '../host/heartbeat';
import {
  UNIT_STEADY_MS,
  describeUnit,
  restartUnit,
  unitState,
  unitVariables,
  type UserSystemctl,
} from '../host/user-units';
import { checkBackupLocation } from './backup';
import { imageRef } from './images';

/** Where the backup keeps the binary, inside the backup's own directory. */
const KEPT_BINARY = path.join('host', 'aegis');
const VERSION_TIMEOUT_MS = 30_000;

const exists = (file: string) =>
  fs.access(file).then(
    () => true,
    () => false,
  );

export function createHostCliActivities(deployment: Deployment) {
  const binary = path.join(deployment.root, HOST_CLI.binary);
  const systemctl: UserSystemctl = (args, options) => deployment.host('systemctl', ['--user', ...args], options);
  const versionOf = async (file: string) =>
    (await deployment.host(file, ['--version'], { timeoutMs: VERSION_TIMEOUT_MS })).stdout.trim();

  /** Puts what `write` writes in place of `bin/aegis`, in one rename: a running `bin/aegis` is never half written. */
  async function replaceBinary(write: (partial: string) => Promise<void>): Promise<void> {
    const partial = `${binary}.${randomUUID()}.partial`;
    try {
      await write(partial);
      await fs.chmod(partial, 0o755);
      await fs.rename(partial, binary);
    } finally {
      await fs.rm(partial, { force: true });
    }
  }

  /**
   * The FUSE daemon restarted on the binary in place, and up: answering on its listening address, or steady when its
   * unit names none. Nothing when the host has no such unit.
   */
  async function restartDaemon(): Promise<string> {
    if ((await unitState(systemctl, HOST_CLI.unit)).load === 'not-found') {
      return `no ${HOST_CLI.unit} unit on this host: no daemon to restart`;
    }
    const listenAddress = (await unitVariables(systemctl, HOST_CLI.unit)).get(HOST_CLI.listenVariable) || undefined;
    const state = await restartUnit(systemctl, HOST_CLI.unit, { listenAddress });
    const up = state.listening ? `listening on ${state.listening}` : `steady for ${UNIT_STEADY_MS / 1000} s`;
    return `${describeUnit(HOST_CLI.unit, state)}, ${up}, on ${HOST_CLI.binary}`;
  }

  return {
    /**
     * Keeps the checkout's `bin/aegis` in the backup, owner-only as the dumps (once: a retry keeps the first copy), for
     * the rollback. Step 2 runs it, before anything changed: the binary in place is still the one found.
     */
    async keepHostCli({ location }: { location: string }): Promise<KeptHostCli> {
      const backup = checkBackupLocation(deployment.config.aegis.backupDir, location);
      if (!(await exists(binary))) return {};
      const copy = path.join(backup, KEPT_BINARY);
      if (!(await exists(copy))) {
        await privateDirectory(path.dirname(copy));
        const partial = `${copy}.partial`;
        await fs.copyFile(binary, partial);
        await fs.chmod(partial, 0o600);
        await fs.rename(partial, copy);
      }
      return { copy, version: await versionOf(binary) };
    },

    /**
     * `make install-cli`, done by the upgrade: the binary of the runtime image tagged `tag` into `bin/aegis`, checked
     * to be that release's, then the FUSE daemon restarted on it. Nothing when the checkout has no `bin/aegis`.
     */
    async installHostCli({ tag }: { tag: string }): Promise<HostCliResult> {
      if (!(await exists(binary))) {
        return { binary: `no ${HOST_CLI.binary} in the checkout: none installed`, daemon: 'not restarted' };
      }
      const image = imageRef(deployment.config.aegis.registry, 'aegis-runtime', tag);
      return heartbeatWhile(
        (async () => {
          const container = `aegis-cli-extract-${randomUUID().slice(0, 8)}`;
          await deployment.podman(['create', '--name', container, image]);
          try {
            await replaceBinary((partial) =>
              deployment.podman(['cp', `${container}:${HOST_CLI.imageBinary}`, partial]).then(() => undefined),
            );
          } finally {
            await deployment.podman(['rm', '--force', '--ignore', container]);
          }
          const version = await versionOf(binary);
          // A release's binary names its version; a moving tag (`latest`) names none to compare with.
          if (valid(tag) && !version.split(/\s+/).includes(tag)) {
            throw new Error(`${HOST_CLI.binary} taken out of ${image} says "${version}", not ${tag}`);
          }
          return { binary: `${HOST_CLI.binary} says ${version}`, daemon: await restartDaemon() };
        })(),
        `${HOST_CLI.binary} from ${image}, then ${HOST_CLI.unit}`,
      );
    },

    /** The rollback's: the binary kept in the backup back in `bin/aegis`, the daemon restarted on it. */
    async restoreHostCli({ kept }: { kept: KeptHostCli }): Promise<HostCliResult> {
      const copy: unknown = kept?.copy;
      if (!copy) return { binary: 'none was kept: nothing to put back', daemon: 'not restarted' };
      // Only a copy `keepHostCli` made: <backup>/host/aegis, the backup directly inside the backup directory.
      const backupOf = (file: string) => path.dirname(path.dirname(file));
      const isKept =
        typeof copy === 'string' &&
        path.isAbsolute(copy) &&
        copy === path.join(checkBackupLocation(deployment.config.aegis.backupDir, backupOf(copy)), KEPT_BINARY);
      if (!isKept) {
        throw new InvalidActivityInput('kept.copy', `a binary the backup kept (<backup>/${KEPT_BINARY})`, String(copy));
      }
      return heartbeatWhile(
        (async () => {
          await replaceBinary((partial) => fs.copyFile(copy, partial));
          return { binary: `${HOST_CLI.binary} says ${await versionOf(binary)}`, daemon: await restartDaemon() };
        })(),
        `${HOST_CLI.binary} from ${copy}, then ${HOST_CLI.unit}`,
      );
    },
  };
}

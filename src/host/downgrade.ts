import { compare, valid } from 'semver';
import type { BackupRecord, UpgradeRequest } from '../core/upgrade';
import { backupDirectory, readManifest } from '../activities/backup';
import { PreflightFailed } from '../core/errors';

/**
 * Negative when `a` is older than `b`, positive when newer, 0 when equal, by the semver rules (1.3.0-rc.9 before
 * 1.3.0-rc.10 before 1.3.0); undefined when either is no semver version (`latest`, `1.3`, `sha-…` have no order).
 */
export function compareVersions(a: string, b: string): number | undefined {
  const [left, right] = [valid(a), valid(b)];
  return left && right ? compare(left, right) : undefined;
}

/** Whether `target` is older than `from`, both read as semver; a tag that is not (`latest`) is never older. */
export function isDowngrade(target: string, from: string): boolean {
  return (compareVersions(target, from) ?? 0) < 0;
}

/**
 * A downgrade would start older code on a schema newer code migrated, which the older runtime runs on anyway
 * (docs/platform.md): refused unless the request names the backup taken when the platform left the target version,
 * which is then restored before the runtime's redeploy. Returns that backup, or undefined when no restore is needed.
 */
export async function checkDowngrade(
  request: UpgradeRequest,
  fromVersion: string,
  backupDir: string,
): Promise<BackupRecord | undefined> {
  const target = request.targetVersion;
  const downgrade = isDowngrade(target, fromVersion);
  if (request.restoreFrom === undefined) {
    if (downgrade) {
      throw new PreflightFailed(
        `${target} is older than the running ${fromVersion}: its runtime would run on a schema ${fromVersion} migrated. ` +
          `To go back, name the backup taken when the platform left ${target} (a directory of ${backupDir} whose ` +
          `manifest says fromVersion ${target}) as \`restoreFrom\`; it is restored before the runtime is redeployed`,
      );
    }
    return undefined;
  }
  if (!downgrade) {
    throw new PreflightFailed(
      `\`restoreFrom\` is for a downgrade only: ${target} is not older than the running ${fromVersion}; leave it out`,
    );
  }
  const location = backupDirectory(backupDir, request.restoreFrom);
  const manifest = await readManifest(location);
  if (!manifest) {
    throw new PreflightFailed(
      `No finished backup \`${request.restoreFrom}\` in ${backupDir}: ${location}/manifest.json is missing`,
    );
  }
  if (manifest.fromVersion !== target) {
    throw new PreflightFailed(
      `Backup \`${request.restoreFrom}\` was taken on ${manifest.fromVersion}, not on ${target}: restoring it would not ` +
        `match ${target}'s runtime; name a backup whose manifest says fromVersion ${target}`,
    );
  }
  return { location, files: manifest.files };
}

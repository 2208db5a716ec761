import path from 'node:path';
import { MANIFEST_FILE, dumpFileName } from '../core/backup-layout';
import { TEMPORAL_CONTAINER, TEMPORAL_DATABASES } from '../core/platform';
import type { BackupRecord } from '../core/upgrade';
import { backupDirectory, checkBackupLocation } from './backup';
import type { Deployment } from '../host/deployment';
import { createDumpTools, privateDirectory, readJson, writePrivateJson } from '../host/dump-files';
import { BackupInvalid } from '../core/errors';
import { heartbeatWhile } from '../host/heartbeat';

const STOP_SECONDS = 30;
const ident = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * The platform's Temporal databases, around an upgrade of its server: dumped with the server stopped, and restored
 * whole (dropped, created, `pg_restore --single-transaction`) when the rollback goes back to the server that cannot run
 * the migrated schema. Only ever for the platform's own Temporal, never the one this worker runs on (pre-flight).
 */
export function createTemporalDatabaseActivities(deployment: Deployment) {
  const { exec, role, dump, verify } = createDumpTools(deployment);

  return {
    /** Stops pod temporal (its server and its AEGIS worker) so that nothing writes its databases. */
    /**
     * Stops the Temporal server's container, the one writer of its databases (the UI and the AEGIS worker beside it
     * only talk to it); the redeploy that follows replaces the whole pod.
     */
    async stopTemporalServer(): Promise<void> {
      await heartbeatWhile(
        deployment.podman(['stop', '--ignore', '-t', String(STOP_SECONDS), TEMPORAL_CONTAINER]),
        `stopping ${TEMPORAL_CONTAINER}`,
      );
    },

    /** `pg_dump -Fc` of each Temporal database, verified; a backup finished before a crash is kept. */
    async backUpTemporalDatabases({ backupId }: { backupId: string }): Promise<BackupRecord> {
      const location = backupDirectory(deployment.config.aegis.backupDir, backupId);
      const done = await readJson<BackupRecord>(path.join(location, MANIFEST_FILE));
      const user = await role();
      if (done) {
        for (const file of done.files) await verify(location, file);
        return { role: user, ...done };
      }
      await privateDirectory(location);
      const files = await heartbeatWhile(
        Promise.all(
          TEMPORAL_DATABASES.map((database) =>
            dump(location, dumpFileName(database), ['pg_dump', '-U', user, '-Fc', database]),
          ),
        ),
        'pg_dump of the Temporal databases',
      );
      for (const file of files) await verify(location, file);
      const record: BackupRecord = { location, files, role: user };
      await writePrivateJson(path.join(location, MANIFEST_FILE), record);
      return record;
    },

    /** Each Temporal database dropped, created and restored in one transaction: again after a crash, from scratch. */
    async restoreTemporalDatabases({ backup }: { backup: BackupRecord }): Promise<string[]> {
      const location = checkBackupLocation(deployment.config.aegis.backupDir, backup.location);
      const user = await role();
      return heartbeatWhile(
        (async () => {
          for (const database of TEMPORAL_DATABASES) {
            const file = backup.files.find((candidate) => candidate.name === dumpFileName(database));
            if (!file) throw new BackupInvalid(`${location} holds no dump of ${database}`);
            await verify(location, file);
            await deployment.psql('postgres', `drop database if exists ${ident(database)} with (force)`);
            await deployment.psql('postgres', `create database ${ident(database)} owner ${ident(user)}`);
            await exec(['pg_restore', '-U', user, '-d', database, '--single-transaction', '--exit-on-error'], {
              inputFile: path.join(location, file.name),
            });
          }
          return [...TEMPORAL_DATABASES];
        })(),
        'restore of the Temporal databases',
      );
    },
  };
}

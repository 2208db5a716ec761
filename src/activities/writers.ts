import fs from 'node:fs/promises';
import path from 'node:path';
import { PreflightFailed } from '../core/errors';
import { MIGRATED_DATABASES, STOPPED_WRITERS_FILE } from '../core/platform';
import { readDatabaseWriters } from '../host/database-writers';
import type { Deployment } from '../host/deployment';
import { writeFileAtomic } from '../host/env-file';
import { makeVariables } from '../host/pod-definitions';

/** How long a writer may take to shut down cleanly before podman kills it. */
const STOP_SECONDS = 30;

/**
 * The writer containers of the migrated databases, read from the checkout's pod definitions as `make redeploy` renders
 * them (docs/platform.md#who-writes-to-the-database). None found is an error: the dump would not be protected.
 */
export async function writerContainers(deployment: Deployment): Promise<string[]> {
  const variables = makeVariables(await deployment.env());
  const writers = await readDatabaseWriters(deployment.root, variables, MIGRATED_DATABASES).catch((error: unknown) => {
    // Mid-upgrade an unreadable pod file is retried (fixed, the step goes on), not a refusal that "changed nothing".
    throw error instanceof PreflightFailed ? new Error(error.message, { cause: error }) : error;
  });
  if (writers.length === 0) {
    throw new Error(
      `Found no container writing to ${MIGRATED_DATABASES.join(', ')} in the pod definitions of ${deployment.root}: ` +
        'none is given a postgresql:// URL to it (docs/platform.md#who-writes-to-the-database); check podman/pods',
    );
  }
  return writers.map((writer) => writer.container);
}

/**
 * Stops every writer of the migrated databases; one already stopped, or absent from the profile, is no error. The
 * containers it stops are recorded first (added to those an earlier stop recorded), for `startWriters`.
 */
export async function stopWriters(deployment: Deployment): Promise<void> {
  const names = await writerContainers(deployment);
  const ids = new Set(await readStoppedWriters(deployment));
  for (const id of await writerIds(deployment, names)) if (id) ids.add(id);
  await writeFileAtomic(stoppedWritersFile(deployment), `${JSON.stringify([...ids])}\n`);
  await deployment.podman(['stop', '--ignore', '--time', String(STOP_SECONDS), ...names]);
}

/**
 * Starts again the writer containers `stopWriters` stopped, those that still exist; a running one is left as it is.
 * A container created since (a redeploy) is not touched: it is the new release's, and if it stopped, it crashed. With no
 * record (an upgrade begun on an older worker), every writer container that exists, unless `recordedOnly`. Returns
 * those it started.
 */
export async function startWriters(deployment: Deployment, { recordedOnly = false } = {}): Promise<string[]> {
  const stopped = await readStoppedWriters(deployment);
  if (!stopped && recordedOnly) return [];
  const names = await writerContainers(deployment);
  const ids = await writerIds(deployment, names);
  const found = names.filter((_, index) => {
    const id = ids[index];
    return id && (!stopped || stopped.includes(id));
  });
  if (found.length > 0) await deployment.podman(['start', ...found]);
  await fs.rm(stoppedWritersFile(deployment), { force: true });
  return found;
}

function stoppedWritersFile(deployment: Deployment): string {
  return path.join(deployment.root, STOPPED_WRITERS_FILE);
}

/** The recorded IDs; undefined when there is no record (or an unreadable one: then every writer counts). */
async function readStoppedWriters(deployment: Deployment): Promise<string[] | undefined> {
  try {
    const ids: unknown = JSON.parse(await fs.readFile(stoppedWritersFile(deployment), 'utf8'));
    return Array.isArray(ids) ? ids.filter((id): id is string => typeof id === 'string') : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The ID of each writer container, in the order of `names` (undefined for one that does not exist), from one
 * `podman ps`: a rollback waits for this twice.
 */
async function writerIds(deployment: Deployment, names: readonly string[]): Promise<(string | undefined)[]> {
  const { stdout } = await deployment.podman([
    'ps',
    '--all',
    '--no-trunc',
    ...names.flatMap((name) => ['--filter', `name=^${name}$`]),
    '--format',
    '{{.Names}} {{.ID}}',
  ]);
  const ids = new Map(
    stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split(' ') as [string, string]),
  );
  return names.map((name) => ids.get(name));
}

export function createWriterActivities(deployment: Deployment) {
  return {
    /** Brings the writers back once the new runtime's migrations are judged, or at the end of a rollback. */
    async resumeWriters(): Promise<string[]> {
      return startWriters(deployment);
    },

    /**
     * For `unlock`: starts again the writers that an upgrade which ended without its rollback (terminated) stopped and
     * recorded; none when there is no record, since then no upgrade left them stopped.
     */
    async resumeRecordedWriters(): Promise<string[]> {
      return startWriters(deployment, { recordedOnly: true });
    },
  };
}

import { DATABASE_WRITERS } from '../platform';
import type { Deployment } from './deployment';
import { CommandFailed } from './errors';

/** How long a writer may take to shut down cleanly before podman kills it. */
const STOP_SECONDS = 30;

/** Stops every writer of the migrated databases; one already stopped, or absent from the profile, is no error. */
export async function stopWriters(deployment: Deployment): Promise<void> {
  await deployment.podman([
    'stop',
    '--ignore',
    '--time',
    String(STOP_SECONDS),
    ...DATABASE_WRITERS.map((writer) => writer.container),
  ]);
}

/** Starts every writer container that exists again; a running one is left as it is. Returns those it found. */
export async function startWriters(deployment: Deployment): Promise<string[]> {
  const found: string[] = [];
  for (const { container } of DATABASE_WRITERS) {
    if (!(await containerExists(deployment, container))) continue;
    await deployment.podman(['start', container]);
    found.push(container);
  }
  return found;
}

async function containerExists(deployment: Deployment, container: string): Promise<boolean> {
  try {
    await deployment.podman(['container', 'exists', container]);
    return true;
  } catch (error) {
    // `podman container exists` answers "no" with exit code 1; anything else is podman failing.
    if (error instanceof CommandFailed && error.exitCode === 1) return false;
    throw error;
  }
}

export function createWriterActivities(deployment: Deployment) {
  return {
    /** Brings the writers back once the new runtime's migrations are judged, or at the end of a rollback. */
    async resumeWriters(): Promise<string[]> {
      return startWriters(deployment);
    },
  };
}

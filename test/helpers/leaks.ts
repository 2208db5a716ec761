import type { Client } from '@temporalio/client';
import fs from 'node:fs/promises';
import path from 'node:path';
import { readDeployEnv, secretValues } from '../../src/host/env-file';

/** The Temporal server a test file upgrades through, and the deploy checkouts (AEGIS_ROOT) its upgrades touch. */
export interface LeakWatch {
  client: Client;
  roots: string[];
}

/** The secrets of the checkouts' `.env`, each with the key it is under: a leak is named by its key, never shown. */
export type Secrets = Map<string, string>;

async function addSecrets(secrets: Secrets, roots: string[]): Promise<void> {
  for (const root of roots) {
    for (const [key, value] of await readDeployEnv(root)) {
      for (const secret of secretValues(new Map([[key, value]]))) secrets.set(secret, key);
    }
  }
}

/**
 * What the whole suite promises of every upgrade: no secret of `.env` in the history of any workflow on the server,
 * no backup file open to others. Installed by `usePlatform`, or by a file that upgrades deployments of its own, so
 * that no scenario can skip it. `watch` is read at each test: the server and checkouts come up in `beforeAll`.
 */
export function useLeakCheck(watch: () => LeakWatch): Secrets {
  const secrets: Secrets = new Map();
  /** Runs already closed when looked at: their histories do not change. */
  const closedRuns = new Set<string>();
  // Before a scenario changes `.env` (it may empty a token), and after (a reset may write new secrets).
  beforeEach(async () => addSecrets(secrets, watch().roots));
  afterEach(async () => {
    const { client, roots } = watch();
    await addSecrets(secrets, roots);
    expect(secrets.size).toBeGreaterThan(0);
    expect(await historiesHoldingSecrets(client, secrets, closedRuns)).toEqual([]);
    for (const root of roots) expect(await backupsOpenToOthers(root)).toEqual([]);
  });
  return secrets;
}

/** `<workflow ID> (run <run ID>) holds <key>` for each secret found in a workflow's history. */
async function historiesHoldingSecrets(client: Client, secrets: Secrets, closedRuns: Set<string>): Promise<string[]> {
  const found: string[] = [];
  for await (const run of client.workflow.list()) {
    if (closedRuns.has(run.runId)) continue;
    const history = JSON.stringify(await client.workflow.getHandle(run.workflowId, run.runId).fetchHistory());
    for (const [secret, key] of secrets) {
      if (history.includes(secret)) found.push(`${run.workflowId} (run ${run.runId}) holds ${key}`);
    }
    if (run.status.name !== 'RUNNING') closedRuns.add(run.runId);
  }
  return found;
}

/** `<file> is <mode>` for each file under `<root>/backups` that its group or others may read, write or run. */
async function backupsOpenToOthers(root: string): Promise<string[]> {
  const backups = path.join(root, 'backups');
  const open: string[] = [];
  for (const entry of await fs.readdir(backups, { recursive: true }).catch(() => [] as string[])) {
    const { mode } = await fs.stat(path.join(backups, entry));
    if ((mode & 0o077) !== 0) open.push(`${path.join(backups, entry)} is ${(mode & 0o777).toString(8)}`);
  }
  return open;
}

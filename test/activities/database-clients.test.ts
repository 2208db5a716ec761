/**
 * The database's client pods around a major PostgreSQL upgrade (stopDatabaseClients, startDatabaseClients), on a
 * podman that answers `pod inspect` from a table of container states and records every stop and start.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createPostgresMajorActivities } from '../../src/activities/postgres-major';
import type { Deployment } from '../../src/host/deployment';
import { activityEnvironment } from '../helpers/activity-environment';

/** The state of each pod's one container (`running`, `exited`); a pod absent from it is not deployed. */
let states: Record<string, string>;
let calls: string[];
let root: string;

const podman = async (args: readonly string[]) => {
  if (args[0] === 'pod' && args[1] === 'inspect') {
    const pod = String(args[2]).replace(/^aegis-/, '');
    const state = states[pod];
    if (!state) throw new Error(`no pod aegis-${pod}`);
    const Containers = [
      { Name: `${pod}-infra`, State: 'running' },
      { Name: `aegis-${pod}-main`, State: state },
    ];
    return { stdout: JSON.stringify({ Created: '2026-12-07T00:00:00Z', Containers }), stderr: '' };
  }
  if (args[0] === 'container') return { stdout: '', stderr: '' };
  calls.push(args.join(' '));
  if (args[1] === 'stop') for (const name of args.slice(5)) states[name.replace(/^aegis-/, '')] = 'exited';
  if (args[1] === 'start') for (const name of args.slice(2)) states[name.replace(/^aegis-/, '')] = 'running';
  return { stdout: '', stderr: '' };
};

const clients = () => {
  const deployment = { root, podman, config: { aegis: { runtimeUrl: '', sealGatewayUrl: '' } } };
  const { stopDatabaseClients, startDatabaseClients } = createPostgresMajorActivities(
    deployment as unknown as Deployment,
  );
  const env = activityEnvironment();
  return { stop: () => env.run(stopDatabaseClients), start: () => env.run(startDatabaseClients) };
};

beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'database-clients-'));
  states = { core: 'running', temporal: 'running', 'seal-gateway': 'running' };
  calls = [];
});
afterEach(() => fs.rm(root, { recursive: true, force: true }));

describe('the database clients around a major upgrade', () => {
  it('stops those running and starts the same again', async () => {
    expect(await clients().stop()).toEqual(['core', 'temporal', 'seal-gateway']);
    expect(await clients().start()).toEqual(['core', 'temporal', 'seal-gateway']);
    expect(calls).toEqual([
      'pod stop --ignore -t 30 aegis-core aegis-temporal aegis-seal-gateway',
      'pod start aegis-core aegis-temporal aegis-seal-gateway',
    ]);
  });

  it('in a rollback, also starts a client whose process exited after the upgrade started it (it ran before)', async () => {
    await clients().stop();
    await clients().start();
    // The runtime would not start on the new cluster: it exited on its own. The rollback stops the clients again.
    states.core = 'exited';
    expect(await clients().stop()).toEqual(['temporal', 'seal-gateway']);

    expect(await clients().start()).toEqual(['temporal', 'seal-gateway', 'core']);
    expect(states).toEqual({ core: 'running', temporal: 'running', 'seal-gateway': 'running' });
  });

  it('leaves alone a client pod the profile does not deploy', async () => {
    delete states['seal-gateway'];
    await clients().stop();
    expect(await clients().start()).toEqual(['core', 'temporal']);
  });
});

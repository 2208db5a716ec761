import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { execa } from 'execa';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FleetFailureType, fleetTaskQueue, type FleetProgress } from '../../src/core/fleet';
import { startDevServer, temporalCliBinary, type DevServer } from '../helpers/temporal-server';
import { startWorker, type WorkerProcess } from '../helpers/worker-process';

/**
 * The worker as operators run it also polls the fleet queue: a fleet started with the `temporal workflow start` line
 * of docs/temporal-recipes.md runs on it, and sends the environment's upgrade to the environment's own queue. The
 * deployment is a checkout with nothing but its Makefile and .env, so that upgrade is refused at pre-flight, changing
 * nothing, and the fleet stops saying so.
 */
describe('the worker process drives fleets', () => {
  let server: DevServer;
  let worker: WorkerProcess | undefined;
  let connection: Connection | undefined;
  let dir: string;
  const taskQueue = `fleet-worker-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-fleet-worker-'));
    await fs.mkdir(path.join(dir, 'deploy'));
    // What the worker checks at start; nothing else, so pre-flight refuses.
    await fs.writeFile(path.join(dir, 'deploy', 'Makefile'), 'validate:\n\tfalse\n');
    await fs.writeFile(path.join(dir, 'deploy', '.env'), 'AEGIS_IMAGE_TAG=1.2.0\n');
    await fs.mkdir(path.join(dir, 'home'));
    server = await startDevServer();
    worker = await startWorker({
      ...Object.fromEntries(
        Object.keys(process.env).flatMap((name) => (name.startsWith('TEMPORAL_') ? [[name, '']] : [])),
      ),
      TEMPORAL_ADDRESS: server.address,
      AEGIS_ROOT: path.join(dir, 'deploy'),
      AEGIS_TASK_QUEUE: taskQueue,
    });
    connection = await Connection.connect({ address: server.address });
  }, 120_000);

  afterAll(async () => {
    await worker?.stop();
    await connection?.close();
    await server?.stop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  test('a fleet started from the temporal CLI runs, its environment refused at pre-flight: FleetStopped', async () => {
    const input = { targetVersion: '1.3.0', environments: ['default'] };
    const started = await execa(
      await temporalCliBinary(),
      [
        ...['workflow', 'start', '--address', server.address, '--namespace', 'default', '--type', 'upgradeFleet'],
        ...['--task-queue', fleetTaskQueue(taskQueue), '--workflow-id', 'aegis-fleet-nightly'],
        ...['--input', JSON.stringify(input)],
      ],
      { env: { PATH: process.env.PATH ?? '', HOME: path.join(dir, 'home') }, extendEnv: false, all: true },
    );
    expect(started.exitCode).toBe(0);

    const client = new Client({ connection: connection as Connection });
    const error = await client.workflow
      .getHandle('aegis-fleet-nightly')
      .result()
      .then(
        () => new Error('Expected the fleet to stop'),
        (failure: unknown) => failure,
      );
    if (!(error instanceof WorkflowFailedError) || !(error.cause instanceof ApplicationFailure)) throw error;
    expect(error.cause.type).toBe(FleetFailureType.FleetStopped);
    expect(error.cause.message).toMatch(/Failed: default \(/);
    const progress = error.cause.details?.[0] as FleetProgress;
    expect(progress.environments).toEqual([
      expect.objectContaining({ environment: 'default', wave: 0, phase: 'failed' }),
    ]);
    const child = await client.workflow.getHandle('aegis-upgrade-default').describe();
    expect(child.taskQueue).toBe(taskQueue);
    expect((await fs.readdir(path.join(dir, 'deploy'))).sort()).toEqual(['.env', 'Makefile']);
  }, 120_000);
});

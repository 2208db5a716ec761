import { execa, type ResultPromise } from 'execa';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ExitCode } from '../../src/cli/errors';
import { fleetProgressQuery, type FleetProgress } from '../../src/core/fleet';
import { startStandInFleet, type StandInFleet } from '../helpers/fleet';
import { REPO_ROOT } from '../helpers/repo';
import { until } from '../helpers/stand-in-activities';

const CLI = path.join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
const SETUP_TIMEOUT_MS = 2 * 60_000;
const SCENARIO_TIMEOUT_MS = 2 * 60_000;

/**
 * `fleet start --follow` and `fleet status --follow`, the built CLI as a process on a stand-in fleet: each follows
 * until the fleet's workflow ends, each change printed once, and exits as `fleet status` does. The wave's approval
 * records who gave it and why.
 */
describe('following a fleet', () => {
  const names = ['canary', 'eu'];
  let fleet: StandInFleet;
  let home: string;

  const aegisUpgrade = (args: string[]) =>
    execa(process.execPath, [CLI, ...args], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: home,
        TEMPORAL_ADDRESS: fleet.server.address,
        AEGIS_TASK_QUEUE: fleet.defaultQueue,
      },
      extendEnv: false,
      reject: false,
    });
  const progress = (name: string): Promise<FleetProgress> =>
    fleet.client.workflow.getHandle(`aegis-fleet-${name}`).query(fleetProgressQuery);

  beforeAll(async () => {
    await fs.access(CLI).catch((error: unknown) => {
      throw new Error(`${CLI} is missing: run \`npm run build\` (npm test does it first)`, { cause: error });
    });
    home = await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-upgrade-fleet-follow-'));
    fleet = await startStandInFleet(names);
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await fleet?.close();
    if (home) await fs.rm(home, { recursive: true, force: true });
  });

  beforeEach(() => {
    for (const environment of fleet.environments.values()) {
      environment.version = '1.2.0';
      environment.scenario();
    }
  });

  test(
    'fleet start --follow waits at the approval, and ends when the fleet completes; status --follow ends with it',
    async () => {
      const started: ResultPromise = aegisUpgrade([
        'fleet',
        'start',
        '1.3.0',
        '--name',
        'followed',
        '--envs',
        names.join(','),
        '--approve-between-waves',
        '--follow',
      ]);
      await until(async () => (await progress('followed').catch(() => undefined))?.phase === 'waiting-for-approval');
      const watching: ResultPromise = aegisUpgrade([
        'fleet',
        'status',
        '--name',
        'followed',
        '--follow',
        '--color',
        'never',
      ]);
      // Both have shown the wait before it is approved.
      const printed = { start: '', status: '' };
      started.stdout?.on('data', (chunk: Buffer) => (printed.start += chunk.toString()));
      watching.stdout?.on('data', (chunk: Buffer) => (printed.status += chunk.toString()));
      const waitingLine = 'Fleet to 1.3.0: waiting-for-approval, wave 2 of 2';
      await until(() => printed.start.includes(waitingLine) && printed.status.includes(waitingLine));

      const approved = await aegisUpgrade([
        'fleet',
        'approve',
        '--name',
        'followed',
        '--by',
        'ana@ops-1',
        '--reason',
        'canary fine',
      ]);
      expect(approved.stdout).toBe('Approved by ana@ops-1: wave 2 of 2 of aegis-fleet-followed');

      const [start, status] = await Promise.all([started, watching]);
      for (const run of [start, status]) {
        expect({ exitCode: run.exitCode, stderr: run.stderr }).toEqual({ exitCode: ExitCode.Done, stderr: '' });
        const lines = String(run.stdout).split('\n');
        // Each change once: the fleet's line when it changed, an environment's when its phase did.
        expect(lines.filter((line) => line === waitingLine)).toHaveLength(1);
        expect(lines.filter((line) => /^eu\s+wave 2 {2}completed\s+from 1\.2\.0$/.test(line))).toHaveLength(1);
        expect(lines.filter((line) => /^Wave 2 approved by ana@ops-1: canary fine \(.*Z\)$/.test(line))).toHaveLength(
          1,
        );
        expect(lines).toContain('Fleet to 1.3.0: completed, wave 2 of 2');
      }
      expect(String(start.stdout)).toMatch(/^Started aegis-fleet-followed \(run /);

      const done = await aegisUpgrade(['fleet', 'status', '--name', 'followed', '-o', 'json']);
      expect(JSON.parse(done.stdout)).toMatchObject({
        workflowId: 'aegis-fleet-followed',
        name: 'followed',
        phase: 'completed',
        approvals: [{ wave: 1, by: 'ana@ops-1', reason: 'canary fine', at: expect.any(String) }],
      });
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    'fleet status --follow of a fleet that stopped: it ends with it, exit 1; with -o json the end only',
    async () => {
      fleet.environments.get('canary')?.scenario({
        fail: [{ activity: 'validatePlatform', type: 'ValidationFailed', message: 'Validation failed: ✗ Runtime API' }],
      });
      const started = await aegisUpgrade([
        'fleet',
        'start',
        '1.3.0',
        '--name',
        'stopped',
        '--envs',
        names.join(','),
        '-o',
        'json',
      ]);
      expect(started.exitCode).toBe(0);
      // What start says of the fleet is a part of what status says: one shape.
      const begun = JSON.parse(started.stdout) as Record<string, unknown>;
      expect(begun).toEqual({
        workflowId: 'aegis-fleet-stopped',
        runId: expect.any(String),
        name: 'stopped',
        targetVersion: '1.3.0',
      });
      const followed = await aegisUpgrade(['fleet', 'status', '--name', 'stopped', '--follow', '-o', 'json']);
      expect(followed.exitCode).toBe(ExitCode.Failed);
      expect(JSON.parse(followed.stdout)).toMatchObject({
        workflowId: begun.workflowId,
        name: 'stopped',
        targetVersion: '1.3.0',
        phase: 'stopped',
        failure: { type: expect.any(String) },
      });
    },
    SCENARIO_TIMEOUT_MS,
  );
});

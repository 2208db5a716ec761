import { execa, type ResultPromise } from 'execa';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from './helpers/repo';
import { freePort } from './helpers/temporal-server';

const SANDBOX = path.join(REPO_ROOT, 'sandbox', 'sandbox.sh');

/**
 * The sandbox registry's start and stop on a busy machine: a CPU hog on every core, and a registry process that
 * becomes docker-registry late (between its fork and its exec). Its own state directory and port: the sandbox's
 * registry and pods are left alone.
 */
describe('the sandbox registry on a busy machine', () => {
  let dir: string;
  let port: number;
  const hogs: ResultPromise[] = [];
  const registry = (command: 'registry-up' | 'registry-down', env: Record<string, string> = {}) =>
    // Not a test lane's deployment (AEGIS_SANDBOX_SHARED_DIR cleared): a main sandbox's registry, its storage its own.
    execa('bash', [SANDBOX, 'fault', command], {
      env: { AEGIS_SANDBOX_DIR: dir, AEGIS_SANDBOX_SHARED_DIR: '', ...env },
      reject: false,
      all: true,
    });
  const answers = () =>
    fetch(`http://127.0.0.1:${port}/v2/`).then(
      (response) => response.ok,
      () => false,
    );

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-registry-'));
    port = await freePort();
    await fs.writeFile(path.join(dir, 'ports.env'), `AEGIS_SANDBOX_REGISTRY_PORT=${port}\n`);
    for (let core = 0; core < 2 * os.availableParallelism(); core++) {
      hogs.push(execa('bash', ['-c', 'while :; do :; done'], { reject: false }));
    }
  });
  afterAll(async () => {
    for (const hog of hogs) hog.kill('SIGKILL');
    await Promise.all(hogs);
    await registry('registry-down');
    await fs.rm(dir, { recursive: true, force: true });
  });

  test('starts when its process execs late, answers, and stops', async () => {
    for (let start = 0; start < 3; start++) {
      const up = await registry('registry-up', { AEGIS_SANDBOX_REGISTRY_START_DELAY: '1' });
      expect(`start ${start}: exit ${up.exitCode}\n${up.all}`).toMatch(/^start \d: exit 0\n/);
      expect(await answers()).toBe(true);

      const down = await registry('registry-down');
      expect(`start ${start}: exit ${down.exitCode}\n${down.all}`).toMatch(/^start \d: exit 0\n/);
      expect(await answers()).toBe(false);
    }
  }, 120_000);
});

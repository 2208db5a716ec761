import { execa } from 'execa';
import fs from 'node:fs/promises';
import path from 'node:path';
import { UPGRADE_LOCK_HISTORY_FILE, shortDigest } from '../../../src/core/platform';
import { UpgradeFailureType, progressQuery, upgradeWorkflowId, type UpgradeReport } from '../../../src/core/upgrade';
import { type Fault } from '../../helpers/faults';
import { registryDigest, runningDigests } from '../../helpers/registry';
import { sandbox } from '../../helpers/sandbox';
import { backupsIn, runningImages, startUpgrade, upgradeFailure, waitFor } from '../../helpers/platform';
import { SCENARIO_TIMEOUT_MS, TERMINATED_AFTER_WRITERS_STOP, useFaultMatrix } from '../../helpers/fault-matrix';

/**
 * The fault matrix, part lock-and-refusals: the lock, requests that need no change, and pre-flight refusals.
 * What the parts share is in test/helpers/fault-matrix.ts; each part runs on a sandbox of its own when lanes run.
 */
describe('the fault matrix on the sandbox: lock-and-refusals', () => {
  const {
    platform,
    faults,
    tally,
    aegisUpgrade,
    startWorker,
    killWorker,
    eachScenario,
    platformState,
    lockLeft,
    changingCommands,
    expectRolledBack,
    expectCompleted,
    expectNoSecretPrinted,
  } = useFaultMatrix('lock-and-refusals');

  describe('the lock: one upgrade of a deployment at a time, a dead one cleared only by hand', () => {
    eachScenario();

    test(
      'two upgrades under different workflow IDs → one runs, the other is refused naming it, nothing changed by it',
      async () => {
        const baseline = await platformState();
        const first = await startUpgrade(platform, { targetVersion: '1.3.0', approveBefore: ['core'] });
        await waitFor(async () => (await first.query(progressQuery)).phase === 'waiting-for-approval');
        const atTheGate = await platformState();
        const second = await startUpgrade(platform, { targetVersion: '1.3.0' });
        const refusal = await upgradeFailure(second.result());

        expect(refusal.type).toBe(UpgradeFailureType.PreflightFailed);
        expect(refusal.message).toContain(first.workflowId);
        expect(refusal.message).toContain('aegis-upgrade unlock --env');
        expect(await platformState()).toEqual(atTheGate);
        tally.refused++;
        await first.cancel();
        await expectRolledBack(first, 'approve:core', baseline);
      },
      SCENARIO_TIMEOUT_MS,
    );

    test.each(TERMINATED_AFTER_WRITERS_STOP)(
      'terminated inside $step → the next is refused naming it → aegis-upgrade unlock starts again the writers it had ' +
        'stopped ($writers) → the next upgrade completes',
      async ({ pause, writers, podLeftStopped, atTarget }) => {
        // The worker serves environment default: its upgrades, its unlock.
        const workflowId = upgradeWorkflowId('default');
        const held: Fault = { action: 'pause', command: pause };
        await faults.add(held);
        const terminated = await startUpgrade(platform, { targetVersion: '1.3.0' }, workflowId);
        await faults.paused();
        await terminated.terminate('the fault matrix terminates it half-way, holding the lock');
        // Termination runs no rollback and stops no activity: the worker that ran it is restarted, like a host reboot.
        await killWorker();
        await faults.remove(held);
        await startWorker();

        const refused = await upgradeFailure(
          (await startUpgrade(platform, { targetVersion: '1.3.0' }, workflowId)).result(),
        );
        expect(refused.type).toBe(UpgradeFailureType.PreflightFailed);
        expect(refused.message).toContain(terminated.firstExecutionRunId);
        expect(refused.message).toContain('aegis-upgrade unlock --env');
        tally.refused++;

        const unlocked = await aegisUpgrade([
          'unlock',
          '--env',
          'default',
          '--reason',
          'terminated by the fault matrix',
        ]);
        expect({ exitCode: unlocked.exitCode, output: unlocked.all }).toMatchObject({ exitCode: 0 });
        const restarted = /^Started again the database writers .*: (.*)$/m.exec(unlocked.all ?? '')?.[1];
        expect({ restarted: restarted?.split(', ') ?? [], output: unlocked.all }).toMatchObject({ restarted: writers });
        const history = path.join(platform.root, UPGRADE_LOCK_HISTORY_FILE);
        expect((await fs.readFile(history, 'utf8')).trim().split('\n')).toHaveLength(1);
        expect(((await fs.stat(history)).mode & 0o777).toString(8)).toBe('600');

        if (podLeftStopped) {
          // The run had stopped this pod for its redeploy: pre-flight names it, and the operator brings it back.
          const named = await upgradeFailure(
            (await startUpgrade(platform, { targetVersion: '1.3.0' }, workflowId)).result(),
          );
          expect({ type: named.type, message: named.message }).toMatchObject({
            type: UpgradeFailureType.PreflightFailed,
            message: expect.stringContaining(`aegis-${podLeftStopped}`),
          });
          tally.refused++;
          await execa('podman', ['pod', 'start', `aegis-${podLeftStopped}`]);
        }
        await fs.writeFile(platform.env.AEGIS_SANDBOX_COMMAND_LOG ?? '', '');
        const next = await startUpgrade(platform, { targetVersion: '1.3.0' }, workflowId);
        if (atTarget) {
          const report: UpgradeReport = await next.result();
          expect(report.notes).toEqual(['Already at 1.3.0: nothing pulled, backed up, changed or redeployed']);
          tally.completed++;
          return;
        }
        // `.env` already says 1.3.0 but some pods still run 1.2.0: not "already at", a real upgrade, which redeploys
        // every pod (with the tag already set, it cannot tell which pods run what the new tag renders), and says why.
        const report = await expectCompleted(next, true);
        expect(report.notes ?? []).toEqual([]);
        expect(report.steps.find((record) => record.id === 'preflight')?.detail).toContain(
          'Left part-way by an earlier upgrade: .env names 1.3.0 already',
        );
      },
      SCENARIO_TIMEOUT_MS,
    );
  });

  describe('requests that need no change, or would break the schema', () => {
    eachScenario();

    test(
      'at 1.3.0: 1.3.0 again changes nothing (no make, no backup); 1.2.0 (a downgrade) is refused, nothing changed',
      async () => {
        await expectCompleted(await startUpgrade(platform, { targetVersion: '1.3.0' }));
        await fs.writeFile(platform.env.AEGIS_SANDBOX_COMMAND_LOG ?? '', '');
        const upgraded = await platformState();
        const backups = await backupsIn(platform.root);

        const again: UpgradeReport = await (await startUpgrade(platform, { targetVersion: '1.3.0' })).result();
        expect(again.notes).toEqual(['Already at 1.3.0: nothing pulled, backed up, changed or redeployed']);
        expect(await changingCommands()).toEqual([]);
        expect(await backupsIn(platform.root)).toEqual(backups);

        const downgrade = await upgradeFailure((await startUpgrade(platform, { targetVersion: '1.2.0' })).result());
        expect(downgrade.type).toBe(UpgradeFailureType.PreflightFailed);
        expect(downgrade.message).toContain('restoreFrom');
        expect(await platformState()).toEqual(upgraded);
        expect(await changingCommands()).toEqual([]);
        expect(await lockLeft()).toBe(false);
        tally.completed++;
        tally.refused++;
      },
      SCENARIO_TIMEOUT_MS,
    );
  });

  describe('pre-flight refuses a platform that cannot be upgraded now, changing nothing', () => {
    eachScenario();

    const refusals: { name: string; breakIt: () => Promise<unknown>; says: string[] }[] = [
      {
        name: 'GHCR_TOKEN emptied in .env',
        breakIt: async () => {
          const file = path.join(platform.root, '.env');
          await fs.writeFile(file, (await fs.readFile(file, 'utf8')).replace(/^GHCR_TOKEN=.*$/m, 'GHCR_TOKEN='));
        },
        says: ['registry-login', 'GHCR_TOKEN is not set'],
      },
      { name: 'the registry gone', breakIt: () => faults.knob('registry-down'), says: ['registry-login'] },
      {
        name: 'the SEAL gateway stopped',
        breakIt: () => execa('podman', ['pod', 'stop', '-t', '0', 'aegis-seal-gateway']),
        says: ['aegis-seal-gateway'],
      },
      { name: 'PostgreSQL gone', breakIt: () => faults.knob('database-down'), says: ['aegis-database'] },
    ];

    test.each(refusals)(
      '$name → PreflightFailed naming it; no lock, no backup, nothing else changed',
      async ({ breakIt, says }) => {
        await breakIt();
        const env = await fs.readFile(path.join(platform.root, '.env'), 'utf8');
        const images = await runningImages();
        const handle = await startUpgrade(platform, { targetVersion: '1.3.0' });
        const failure = await upgradeFailure(handle.result());

        expect(failure.type).toBe(UpgradeFailureType.PreflightFailed);
        for (const words of says) expect(failure.message).toContain(words);
        expect(await fs.readFile(path.join(platform.root, '.env'), 'utf8')).toBe(env);
        expect(await runningImages()).toEqual(images);
        expect(await lockLeft()).toBe(false);
        expect(await backupsIn(platform.root)).toEqual([]);
        expect(await changingCommands()).toEqual([]);
        tally.refused++;
      },
      SCENARIO_TIMEOUT_MS,
    );
  });

  describe('third-party images on moving tags: left as they run unless asked', () => {
    eachScenario();

    test(
      "PgBouncer's `latest` moved on since the host pulled it → a full upgrade is refused naming it, nothing changed; " +
        'a rolling one leaves pod database alone; asked (refreshMovingImages), the full upgrade runs the new PgBouncer',
      async () => {
        await sandbox('behind', 'pgbouncer');
        const pgbouncer = 'aegis-database-pgbouncer';
        const older = await runningDigests(pgbouncer);
        const [registryHost] = (platform.env.AEGIS_REGISTRY ?? '').split('/');
        const newer = await registryDigest(`${registryHost}/edoburu/pgbouncer:latest`);
        expect(newer).toMatch(/^sha256:/);
        expect(older).not.toContain(newer);
        const before = await platformState();

        const full = await upgradeFailure(
          (await startUpgrade(platform, { targetVersion: '1.3.0', strategy: 'full' })).result(),
        );
        expect(full.type).toBe(UpgradeFailureType.PreflightFailed);
        expect(full.message).toContain('Redeploying database would pull other images than run now');
        expect(full.message).toContain(`the registry names ${shortDigest(newer ?? '')}`);
        expect(full.message).toContain('refreshMovingImages');
        expect(await platformState()).toEqual(before);
        expect(await runningDigests(pgbouncer)).toEqual(older);
        expect(await changingCommands()).toEqual([]);
        expect(await lockLeft()).toBe(false);
        tally.refused++;

        const rolling: UpgradeReport = await (
          await startUpgrade(platform, { targetVersion: '1.3.0', dryRun: true })
        ).result();
        expect(rolling.plan?.checks).toContain(
          'Moving tags: none in the pods redeployed; database, secrets (on moving tags) stay as they run',
        );

        const asked: UpgradeReport = await (
          await startUpgrade(platform, { targetVersion: '1.3.0', strategy: 'full', refreshMovingImages: true })
        ).result();
        expect(asked.phase).toBe('completed');
        const preflight = asked.steps.find((step) => step.id === 'preflight')?.detail;
        expect(preflight).toContain(
          `runs ${shortDigest(older[0] ?? '')}, the registry names ${shortDigest(newer ?? '')}`,
        );
        expect(preflight).toContain("the redeploys pull the registry's, as asked (refreshMovingImages)");
        expect(await runningDigests(pgbouncer)).toContain(newer);
        expect(await runningImages()).toMatchObject({
          'aegis-core-aegis-runtime': `${platform.env.AEGIS_REGISTRY}/aegis-runtime:1.3.0`,
        });
        expect(await lockLeft()).toBe(false);
        tally.completed++;
      },
      SCENARIO_TIMEOUT_MS,
    );
  });

  test('after every scenario, no worker printed a secret of .env', expectNoSecretPrinted);
});

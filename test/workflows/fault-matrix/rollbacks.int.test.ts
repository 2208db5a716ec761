import { execa } from 'execa';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MANIFEST_FILE, restoreSourceName } from '../../../src/core/backup-layout';
import { RUNTIME_CONTAINER, shortDigest } from '../../../src/core/platform';
import { parseEnvFile, readDeployEnv } from '../../../src/host/env-file';
import type { BackupManifest } from '../../../src/activities/backup';
import { UpgradeFailureType, approveSignal, progressQuery, upgradeWorkflowId } from '../../../src/core/upgrade';
import { type Fault } from '../../helpers/faults';
import {
  backupsIn,
  dumpEveryDatabase,
  psql,
  runningImages,
  startUpgrade,
  upgradeFailure,
  waitFor,
} from '../../helpers/platform';
import { sandbox } from '../../helpers/sandbox';
import { registryDigest } from '../../helpers/registry';
import { REPO_ROOT } from '../../helpers/repo';
import { cancellationHandled, recordHistory } from '../../helpers/histories';
import { SCENARIO_TIMEOUT_MS, ROLLBACK_KILLS, matrixRequest, useFaultMatrix } from '../../helpers/fault-matrix';
import { readCommandsRun } from '../../helpers/commands-run';

/**
 * The fault matrix, part rollbacks: a worker killed inside each rollback step, and outages during an upgrade.
 * What the parts share is in test/helpers/fault-matrix.ts; each part runs on a sandbox of its own when lanes run.
 */
/** The image (its ID) each AEGIS container runs. */
async function aegisImageIds(): Promise<Record<string, string>> {
  const containers = Object.keys(await runningImages());
  const ids = await Promise.all(
    containers.map(async (name) => (await execa('podman', ['inspect', '--format', '{{.Image}}', name])).stdout),
  );
  return Object.fromEntries(containers.map((name, index) => [name, ids[index] ?? '']));
}

describe('the fault matrix on the sandbox: rollbacks', () => {
  const {
    platform,
    faults,
    tally,
    aegisUpgrade,
    eachScenario,
    platformState,
    expectRolledBack,
    expectNoChangeTwice,
    expectCompleted,
    killInside,
    lockLeft,
    expectNoSecretPrinted,
  } = useFaultMatrix('rollbacks');

  describe('a worker killed inside a rollback step is replaced and the rollback completes', () => {
    eachScenario();

    test.each(ROLLBACK_KILLS)(
      'SIGKILL inside $step of the rollback of 1.3.1 → UpgradeRolledBack, everything as before',
      async ({ step, pause, armed }) => {
        const before = await platformState();
        const fault: Fault = { action: 'pause', command: pause };
        if (!armed) await faults.add(fault);
        const handle = await startUpgrade(platform, matrixRequest('1.3.1', step));
        if (armed) {
          await waitFor(async () => (await handle.query(progressQuery)).phase === 'rolling-back');
          await faults.add(fault);
        }
        await killInside(handle, fault, step);
        await expectRolledBack(handle, 'migrations', before);
        // The rollback of 1.3.1 brings back the runtime of 1.2.0 with one redeploy, whatever step the kill was in.
        await expectNoChangeTwice({
          killed: true,
          including: [/^make .* redeploy POD=core .*AEGIS_IMAGE_TAG=1\.2\.0$/],
        });
        await recordHistory(handle, `platform-killed-in-${step.replace(/:/g, '-')}`);
      },
      SCENARIO_TIMEOUT_MS,
    );
  });

  describe("a worker killed inside the rollback steps 1.3.1's rollback does not have", () => {
    eachScenario();

    test(
      'SIGKILL inside the rollback redeploys of observability, seal-gateway and temporal, one after another → UpgradeRolledBack, everything as before',
      async () => {
        const before = await platformState();
        // 1.3.0 fails at its last step: the rollback redeploys every pod the upgrade did, in reverse.
        await faults.add({ action: 'fail', command: 'make * validate *AEGIS_IMAGE_TAG=1.3.0' });
        const pods = ['observability', 'seal-gateway', 'temporal'];
        const holds = pods.map((pod): Fault => ({
          action: 'pause',
          command: `make * redeploy POD=${pod} *AEGIS_IMAGE_TAG=1.2.0`,
        }));
        for (const hold of holds) await faults.add(hold);
        const handle = await startUpgrade(platform, { targetVersion: '1.3.0', redeployAll: true });
        for (const [index, pod] of pods.entries()) {
          await killInside(handle, holds[index] as Fault, `rollback:redeploy:${pod}`, { kill: index + 1 });
        }
        await expectRolledBack(handle, 'validate', before);
        await expectNoChangeTwice({
          killed: true,
          including: pods.map((pod) => new RegExp(`^make .* redeploy POD=${pod} .*AEGIS_IMAGE_TAG=1\\.2\\.0$`)),
        });
        await recordHistory(handle, 'platform-killed-in-rollback-redeploys');
      },
      SCENARIO_TIMEOUT_MS,
    );

    test(
      'SIGKILL inside rollback:deploy of a full upgrade, after its teardown → UpgradeRolledBack, everything as before',
      async () => {
        const before = await platformState();
        const hold: Fault = { action: 'pause', command: 'make * deploy PROFILE=*AEGIS_IMAGE_TAG=1.2.0' };
        await faults.add(hold);
        const handle = await startUpgrade(platform, { targetVersion: '1.3.1', strategy: 'full' });
        await killInside(handle, hold, 'rollback:deploy');
        await expectRolledBack(handle, 'migrations', before);
        await expectNoChangeTwice({
          killed: true,
          including: [/^make -C \S+ deploy PROFILE=\S+ AEGIS_IMAGE_TAG=1\.2\.0$/],
        });
        await recordHistory(handle, 'platform-killed-in-rollback-deploy');
      },
      SCENARIO_TIMEOUT_MS,
    );
  });

  describe('a rollback that cannot finish', () => {
    eachScenario();

    test(
      "the backup's dump gone when the rollback restores it → RollbackFailed, the lock kept; its manual steps, run by hand once the dump is back, bring the platform back",
      async () => {
        const before = await platformState();
        const hold: Fault = { action: 'pause', command: 'podman tag * AEGIS_IMAGE_TAG=1.3.1' };
        await faults.add(hold);
        const handle = await startUpgrade(platform, { targetVersion: '1.3.1' });
        await faults.paused();
        // The backup's volume went away during the night (unmounted, cleaned up): the dump to restore is not there.
        const [backupId] = await backupsIn(platform.root);
        const location = path.join(platform.root, 'backups', backupId ?? '');
        const manifest = JSON.parse(await fs.readFile(path.join(location, MANIFEST_FILE), 'utf8')) as BackupManifest;
        const dump = path.join(location, restoreSourceName(manifest, 'aegis'));
        await fs.rename(dump, `${dump}.away`);
        await faults.remove(hold);
        const failure = await upgradeFailure(handle.result());

        expect(failure.type).toBe(UpgradeFailureType.RollbackFailed);
        expect(failure.report.cause?.message).toContain(`rollback: ${dump} is missing or empty`);
        expect(failure.report.rollback.map((step) => [step.id, step.status])).toEqual([
          ['rollback:tag', 'succeeded'],
          ['rollback:database', 'failed'],
          ['rollback:redeploy:core', 'pending'],
          ['rollback:writers', 'pending'],
          ['rollback:validate', 'pending'],
        ]);
        expect(await lockLeft()).toBe(true);
        const manualSteps = failure.report.manualSteps ?? [];
        expect(failure.message).toContain(`finish it by hand: ${manualSteps.join(' && ')}`);
        const status = await aegisUpgrade(['status', '--env', 'default']);
        for (const step of manualSteps) expect(status.all).toContain(step);

        // The morning shift brings the volume back and runs the printed steps, from the deploy checkout, as printed.
        await fs.rename(`${dump}.away`, dump);
        const bin = await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-upgrade-bin-'));
        await fs.writeFile(
          path.join(bin, 'aegis-upgrade'),
          `#!/bin/sh\nexec node ${path.join(REPO_ROOT, 'bin', 'aegis-upgrade.js')} "$@"\n`,
          { mode: 0o755 },
        );
        const byHand = await execa('bash', ['-e', '-o', 'pipefail', '-c', manualSteps.join('\n')], {
          cwd: platform.root,
          env: { ...platform.env, PATH: `${bin}:${process.env.PATH ?? ''}` },
          reject: false,
          all: true,
        });
        await fs.rm(bin, { recursive: true, force: true });
        expect({ exitCode: byHand.exitCode, output: byHand.all }).toMatchObject({ exitCode: 0 });
        expect(await platformState()).toEqual(before);
        expect(await lockLeft()).toBe(false);
        tally.rollbackFailed++;
        await recordHistory(handle, 'platform-rollback-failed');
      },
      SCENARIO_TIMEOUT_MS,
    );
  });

  describe('outages and writes during an upgrade', () => {
    eachScenario();

    test(
      'an abort while a downgrade restores its backup → the rollback waits for the restore to end; back on 1.3.0, identical',
      async () => {
        const upgraded = await expectCompleted(await startUpgrade(platform, { targetVersion: '1.3.0' }));
        const before = await platformState();
        // The restore's commands do not see the cancellation: held here, the restore goes on once released.
        const held: Fault = { action: 'pause', command: 'podman exec * pg_restore -U *' };
        await faults.add(held);
        const restoreFrom = path.basename(upgraded.backup?.location ?? '');
        const handle = await startUpgrade(platform, { targetVersion: '1.2.0', restoreFrom });
        await faults.paused();
        expect((await handle.query(progressQuery)).steps.find((step) => step.id === 'restore-from')?.status).toBe(
          'running',
        );

        await handle.cancel();
        const scheduledWhileHeld = await cancellationHandled(handle);
        const rollbackWhileHeld = (await handle.query(progressQuery)).rollback.filter(
          (step) => step.status !== 'pending',
        );
        await faults.remove(held);

        expect(rollbackWhileHeld).toEqual([]);
        expect(scheduledWhileHeld).toEqual([]);
        // The restore ends whole; the cancellation stops the next step, and the rollback restores the downgrade's backup.
        await expectRolledBack(handle, 'redeploy:core', before);
      },
      SCENARIO_TIMEOUT_MS,
    );

    test(
      'the registry gone while the rollback redeploys → the rollback retries (status shows it) and completes when it is back',
      async () => {
        const before = await platformState();
        const held: Fault = { action: 'pause', command: 'make * redeploy POD=database *AEGIS_IMAGE_TAG=1.2.0' };
        await faults.add(held);
        const workflowId = upgradeWorkflowId('default');
        const request = matrixRequest('1.3.1', 'rollback:redeploy:database');
        const handle = await startUpgrade(platform, request, workflowId);
        await faults.paused();
        await faults.knob('registry-down');
        await faults.remove(held);
        let status = '';
        await waitFor(async () => {
          status = (await aegisUpgrade(['status', '--env', 'default'])).stdout;
          return /retrying .*attempt [2-9]/.test(status);
        }, 120_000);
        expect(status).toContain('registry-login');
        await faults.knob('registry-up');
        await expectRolledBack(handle, 'migrations', before);
      },
      SCENARIO_TIMEOUT_MS,
    );

    test(
      'a row written while the upgrade waits at a gate survives the rollback; the report says what was discarded',
      async () => {
        const baseline = await platformState();
        const handle = await startUpgrade(platform, { targetVersion: '1.3.1', approveBefore: ['core'] });
        await waitFor(async () => (await handle.query(progressQuery)).phase === 'waiting-for-approval');
        await psql(
          "insert into agents (id, name, version, status, manifest) values ('a0000000-0000-4000-8000-00000000ab1e', 'written-at-the-gate', '1.0.0', 'active', '{}')",
        );
        const atTheGate = await dumpEveryDatabase();
        const approvedAt = Date.now();
        await handle.signal(approveSignal);
        const failure = await upgradeFailure(handle.result());
        const endedAt = Date.now();

        expect(failure.type).toBe(UpgradeFailureType.UpgradeRolledBack);
        expect(await psql("select name from agents where name = 'written-at-the-gate'")).toBe('written-at-the-gate');
        expect(await dumpEveryDatabase()).toEqual(atTheGate);
        expect(await platformState()).toMatchObject({ env: baseline.env, images: baseline.images });
        const restore = failure.report.databaseRestore;
        expect(restore).toMatchObject({ databases: ['aegis'], writersStopped: true });
        expect(restore?.dumps).toEqual([expect.stringMatching(/\/final\/aegis\.dump$/)]);
        for (const dump of restore?.preRestoreDumps ?? []) expect((await fs.stat(dump)).size).toBeGreaterThan(0);
        expect(restore?.preRestoreDumps).toHaveLength(1);
        // The writes discarded are those from the final dump, taken after the gate (the row is older), to the restore.
        const restoreStep = failure.report.rollback.find((step) => step.id === 'rollback:database');
        const restoreStarted = Date.parse(restoreStep?.startedAt ?? '');
        const { from, to } = restore?.discardedWrites ?? { from: '', to: '' };
        expect({ from, to }).toEqual({ from: failure.report.backup?.final?.takenAt, to: restore?.restoredAt });
        expect({
          from,
          startsAfterTheGate: Date.parse(from) >= approvedAt,
          to,
          endsInTheRestore: Date.parse(to) >= restoreStarted && Date.parse(to) <= endedAt,
        }).toMatchObject({ startsAfterTheGate: true, endsInTheRestore: true });
        tally.rolledBack++;
      },
      SCENARIO_TIMEOUT_MS,
    );
  });

  describe('PgBouncer through a restore', () => {
    eachScenario();

    test(
      "a restore while PgBouncer holds the writers' server connections → rolled back; the runtime writes through the same PgBouncer",
      async () => {
        const before = await platformState();
        const pgbouncer = 'aegis-database-pgbouncer';
        const started = async () =>
          (await execa('podman', ['inspect', '--format', '{{.Id}} {{.State.StartedAt}}', pgbouncer])).stdout;
        const pgbouncerBefore = await started();
        // 1.3.1's second migration fails: the rollback restores aegis. Held just before the restore fills its copy.
        const held: Fault = { action: 'pause', command: 'podman exec * pg_restore -U *' };
        await faults.add(held);
        const handle = await startUpgrade(platform, { targetVersion: '1.3.1' });
        await faults.paused();
        // A client through PgBouncer (127.0.0.1:5433 inside pod database) while the restore is held: once it has gone,
        // PgBouncer keeps its server connection to aegis in the pool (1.3.1's runtime left none: its failed
        // transaction's connection was closed). Sessions over TCP from inside the pod; the restore's own tools use
        // PostgreSQL's socket. The swap ends them, with every other session on aegis.
        const password = (await readDeployEnv(platform.root)).get('POSTGRES_PASSWORD') ?? '';
        await execa('podman', [
          'exec',
          '-e',
          `PGPASSWORD=${password}`,
          'aegis-database-postgres',
          'psql',
          '-X',
          '-At',
          '-h',
          '127.0.0.1',
          '-p',
          '5433',
          '-U',
          'aegis',
          '-d',
          'aegis',
          '-c',
          'select count(*) from agents',
        ]);
        const pooled = "select count(*) from pg_stat_activity where datname = 'aegis' and client_addr is not null";
        expect(Number(await psql(pooled, 'postgres'))).toBeGreaterThan(0);
        await faults.remove(held);
        await expectRolledBack(handle, 'migrations', before);

        // The same PgBouncer, never restarted, and the runtime's own connection string through it writes.
        expect(await started()).toBe(pgbouncerBefore);
        const write =
          "insert into agents (id, name, version, status, manifest) values ('b0000000-0000-4000-8000-0000000bb0ce', " +
          "'through-pgbouncer', '1.0.0', 'active', '{}') returning name";
        const { stdout } = await execa('podman', [
          'exec',
          'aegis-core-aegis-runtime',
          'sh',
          '-c',
          'psql "$AEGIS_DATABASE_URL" -X -q -At -v ON_ERROR_STOP=1 -c "$1"',
          '_',
          write,
        ]);
        expect(stdout.trim()).toBe('through-pgbouncer');
        expect(await psql("select name from agents where name = 'through-pgbouncer'")).toBe('through-pgbouncer');
      },
      SCENARIO_TIMEOUT_MS,
    );
  });

  describe("`latest`, the real checkout's default tag", () => {
    eachScenario();

    test(
      'an upgrade from `latest`, which a release moves to 1.3.0 mid-upgrade → rolled back to the images `latest` named when it began; status and history say which',
      async () => {
        // The deployment on `latest` as the real checkout makes it: the registry's `latest` is 1.2.0, .env names it,
        // the AEGIS pods redeployed from it.
        await sandbox('latest', '1.2.0');
        const envFile = path.join(platform.root, '.env');
        await fs.writeFile(
          envFile,
          (await fs.readFile(envFile, 'utf8')).replace(/^AEGIS_IMAGE_TAG=.*$/m, 'AEGIS_IMAGE_TAG=latest'),
        );
        for (const pod of ['core', 'temporal', 'seal-gateway']) {
          await execa('make', ['-C', platform.root, 'redeploy', `POD=${pod}`], { env: platform.env });
        }
        const before = await platformState();
        const imagesBefore = await aegisImageIds();
        const digest = (
          await execa('podman', ['image', 'inspect', '--format', '{{.Digest}}', imagesBefore[RUNTIME_CONTAINER] ?? ''])
        ).stdout;
        const from = `latest (${shortDigest(digest)})`;

        // Held at core's redeploy on 1.3.1, a release publishes 1.3.0 as `latest`.
        const held: Fault = { action: 'pause', command: 'make * redeploy POD=core *AEGIS_IMAGE_TAG=1.3.1' };
        await faults.add(held);
        const handle = await startUpgrade(platform, { targetVersion: '1.3.1' });
        await faults.paused();
        await sandbox('latest', '1.3.0');
        expect(await registryDigest(`${platform.env.AEGIS_REGISTRY}/aegis-runtime:latest`)).not.toBe(digest);
        expect((await aegisUpgrade(['status', '--env', 'default'])).stdout).toContain(`Upgrade ${from} → 1.3.1`);
        await faults.remove(held);

        // 1.3.1's migrations fail: the rollback runs the images pinned when it began, not the registry's `latest`.
        const failure = await upgradeFailure(handle.result());
        expect({ type: failure.type, step: failure.report.cause?.step, message: failure.message }).toMatchObject({
          type: UpgradeFailureType.UpgradeRolledBack,
          step: 'migrations',
          message: expect.stringContaining(`Upgrade ${from} → 1.3.1 rolled back`),
        });
        expect(await aegisImageIds()).toEqual(imagesBefore);
        const after = await platformState();
        const pin = /^AEGIS_IMAGE_TAG=(aegis-rollback-.*)$/m.exec(after.env)?.[1];
        expect(pin).toBeDefined();
        expect({
          ...after,
          env: after.env.replace(`AEGIS_IMAGE_TAG=${pin}`, 'AEGIS_IMAGE_TAG=latest'),
          images: {},
        }).toEqual({
          ...before,
          images: {},
        });
        expect(await lockLeft()).toBe(false);
        tally.rolledBack++;

        // What the operator reads afterwards: the search attributes (history) name what `latest` was.
        let history: { fromVersion?: string }[] = [];
        await waitFor(async () => {
          history = JSON.parse((await aegisUpgrade(['history', '--env', 'default', '--json'])).stdout || '[]');
          return history.length > 0 && history[0]?.fromVersion !== undefined;
        }, 30_000);
        expect(history[0]?.fromVersion).toBe(from);
      },
      SCENARIO_TIMEOUT_MS,
    );
  });

  describe('OpenBao through the full strategy', () => {
    eachScenario();

    test(
      "a full upgrade to 1.3.1 whose bootstrap-secrets writes new AppRole credentials → rolled back; each deploy's sealed OpenBao unsealed, .env keeps the new credentials and the runtime holds them",
      async () => {
        const before = await platformState();
        // The stored credentials stop working: the forward bootstrap makes new ones and rewrites .env's lines.
        await sandbox('fault', 'openbao-revoke');
        const handle = await startUpgrade(platform, { targetVersion: '1.3.1', strategy: 'full' });
        const failure = await upgradeFailure(handle.result());
        expect({ type: failure.type, step: failure.report.cause?.step }).toEqual({
          type: UpgradeFailureType.UpgradeRolledBack,
          step: 'migrations',
        });
        const details = Object.fromEntries(
          [...failure.report.steps, ...failure.report.rollback].map((step) => [step.id, step.detail]),
        );
        expect(details).toMatchObject({
          deploy: expect.stringContaining('OpenBao unsealed; the runtime redeployed'),
          'rollback:deploy': "OpenBao unsealed; the runtime holds .env's AppRole credentials",
        });

        // Sealed by each deploy, unsealed by each bootstrap; unsealed now.
        const unseals = (await readCommandsRun(platform.env)).filter((run) =>
          run.command.startsWith('podman exec -i aegis-secrets-openbao bao operator unseal - '),
        );
        expect(unseals).toHaveLength(2);
        const { stdout: seal } = await execa('podman', [
          'exec',
          'aegis-secrets-openbao',
          'sh',
          '-c',
          'bao status -format=json; true',
        ]);
        expect(JSON.parse(seal)).toMatchObject({ initialized: true, sealed: false });

        // .env: the credentials the forward bootstrap wrote, not those before; every other line as before.
        const after = await platformState();
        const secretId = (env: string) => parseEnvFile(env).get('OPENBAO_SECRET_ID');
        const roleId = (env: string) => parseEnvFile(env).get('OPENBAO_ROLE_ID');
        expect(secretId(after.env)).toMatch(/\S/);
        expect(secretId(after.env)).not.toBe(secretId(before.env));
        expect(roleId(after.env)).toBe(roleId(before.env));
        const withoutSecretId = (state: typeof before) => ({
          ...state,
          env: state.env.replace(/^OPENBAO_SECRET_ID=.*$/m, 'OPENBAO_SECRET_ID=…'),
        });
        expect(withoutSecretId(after)).toEqual(withoutSecretId(before));
        const { stdout: runtimeEnv } = await execa('podman', [
          'container',
          'inspect',
          '--format',
          '{{json .Config.Env}}',
          'aegis-core-aegis-runtime',
        ]);
        expect(JSON.parse(runtimeEnv)).toContain(`OPENBAO_SECRET_ID=${secretId(after.env) ?? ''}`);
        expect(await lockLeft()).toBe(false);
        tally.rolledBack++;
      },
      SCENARIO_TIMEOUT_MS,
    );
  });

  test('after every scenario, no worker printed a secret of .env', expectNoSecretPrinted);
});

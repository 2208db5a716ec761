import { execa } from 'execa';
import fs from 'node:fs/promises';
import path from 'node:path';
import { progressQuery, type UpgradeProgress, type UpgradeReport } from '../../src/core/upgrade';
import { REPO_ROOT } from '../helpers/repo';
import { backupsIn, clearServer, imageTag, psql, runningImages, usePlatform, waitFor } from '../helpers/platform';
import { recordHistory } from '../helpers/histories';
import { sandbox } from '../helpers/sandbox';
import type { WorkerProcess } from '../helpers/worker-process';

const SCENARIO_TIMEOUT_MS = 10 * 60_000;

/** How operators drive upgrades: our CLI and the `temporal` CLI, exactly as docs/temporal-recipes.md writes them. */
describe('operating upgrades', () => {
  // The `temporal` lines of docs/temporal-recipes.md name the default task queue: this file's worker serves it.
  const platform = usePlatform({ AEGIS_TASK_QUEUE: 'aegis-upgrades' });
  let worker: WorkerProcess | undefined;

  const aegisUpgrade = (args: string[]) =>
    execa('node', [path.join(REPO_ROOT, 'bin', 'aegis-upgrade.js'), ...args], {
      env: platform.env,
      reject: false,
      all: true,
    });
  /** `npm run --silent temporal -- …`, with TEMPORAL_ADDRESS pointing the CLI at this file's server. */
  const temporal = (args: string[]) =>
    execa('npm', ['run', '--silent', 'temporal', '--', ...args], {
      cwd: REPO_ROOT,
      env: platform.env,
      reject: false,
      all: true,
    });
  const handle = () => platform.client.workflow.getHandle('aegis-upgrade-default');
  const runtimeImage = async () => (await runningImages())['aegis-core-aegis-runtime'];

  /** `status --follow` until the upgrade ends rolled back: exit 1, the deployment back on 1.2.0. Returns what it printed. */
  const followToRollback = async () => {
    const followed = await aegisUpgrade(['status', '--follow']);
    expect(followed.exitCode).toBe(1);
    expect(followed.stdout).toContain('Result: rolled-back');
    expect(await imageTag(platform.root)).toBe('1.2.0');
    expect(await runtimeImage()).toMatch(/aegis-runtime:1\.2\.0$/);
    return followed.stdout;
  };

  beforeEach(async () => {
    await sandbox('reset');
    worker = await platform.startWorker();
  }, SCENARIO_TIMEOUT_MS);

  afterEach(async () => {
    await clearServer(platform.client);
    await worker?.stop();
  });

  test(
    'the temporal lines of docs/temporal-recipes.md start an upgrade and query it; status --json shows it',
    async () => {
      const started = await temporal([
        'workflow',
        'start',
        '--type',
        'upgradePlatform',
        '--task-queue',
        'aegis-upgrades',
        '--workflow-id',
        'aegis-upgrade-default',
        '--input',
        '{"targetVersion":"1.3.0"}',
      ]);
      expect(started.exitCode).toBe(0);
      const queried = await temporal([
        'workflow',
        'query',
        '--workflow-id',
        'aegis-upgrade-default',
        '--name',
        'progress',
      ]);
      expect(queried.exitCode).toBe(0);
      expect(queried.stdout).toMatch(/"toVersion":\s*"1\.3\.0"/);

      const report: UpgradeReport = await handle().result();
      expect(report.phase).toBe('completed');
      const status = await aegisUpgrade(['status', '--json']);
      expect(status.exitCode).toBe(0);
      expect(JSON.parse(status.stdout)).toMatchObject({ phase: 'completed', fromVersion: '1.2.0', toVersion: '1.3.0' });
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    'an approval gate holds the upgrade before core until the approve signal',
    async () => {
      const started = await aegisUpgrade(['start', '1.3.0', '--approve-before', 'core']);
      expect(started.exitCode).toBe(0);
      await waitFor(async () => (await handle().query(progressQuery)).phase === 'waiting-for-approval');
      expect(await runtimeImage()).toMatch(/aegis-runtime:1\.2\.0$/);
      const status = await aegisUpgrade(['status']);
      expect(status.stdout).toContain('waiting-for-approval');

      const approved = await temporal([
        'workflow',
        'signal',
        '--workflow-id',
        'aegis-upgrade-default',
        '--name',
        'approve',
      ]);
      expect(approved.exitCode).toBe(0);
      const report: UpgradeReport = await handle().result();
      await recordHistory(handle(), 'platform-approved');
      expect(report.phase).toBe('completed');
      expect(await runtimeImage()).toMatch(/aegis-runtime:1\.3\.0$/);
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    'an approval that does not come within --approval-timeout rolls the upgrade back',
    async () => {
      const started = await aegisUpgrade([
        'start',
        '1.3.0',
        '--approve-before',
        'core',
        '--approval-timeout',
        '5 seconds',
      ]);
      expect(started.exitCode).toBe(0);
      expect(await followToRollback()).toContain('Failed at approve:core: nobody approved within 5 seconds');
      await recordHistory(handle(), 'platform-approval-timed-out');
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    'a second start for the same environment is refused, naming the running one; abort rolls it back',
    async () => {
      await worker?.stop();
      worker = await platform.startWorker({ AEGIS_SANDBOX_REDEPLOY_DELAY: '5' });
      expect((await aegisUpgrade(['start', '1.3.0'])).exitCode).toBe(0);
      const second = await aegisUpgrade(['start', '1.3.0']);
      expect(second.exitCode).toBe(2);
      expect(second.all).toContain('already running for environment default: aegis-upgrade-default');

      await waitFor(async () => (await handle().query(progressQuery)).currentStep === 'redeploy:temporal');
      const aborted = await aegisUpgrade(['abort', '--reason', 'error rate up']);
      expect(aborted.exitCode).toBe(0);
      expect(await followToRollback()).toContain('error rate up');
      await recordHistory(handle(), 'platform-aborted');
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    'plan prints the steps and changes nothing',
    async () => {
      const envBefore = await fs.readFile(path.join(platform.root, '.env'), 'utf8');
      const containersBefore = await runningImages();
      const plan = await aegisUpgrade(['plan', '1.3.0']);
      expect(plan.exitCode).toBe(0);
      expect(plan.stdout).toContain('Plan: 1.2.0 → 1.3.0');
      expect(plan.stdout).toMatch(/aegis-core-aegis-runtime: \S+aegis-runtime:1\.2\.0 → \S+aegis-runtime:1\.3\.0/);
      expect(plan.stdout).toContain(
        'redeploy core → temporal → seal-gateway (database, observability unchanged: not redeployed)',
      );
      expect(await fs.readFile(path.join(platform.root, '.env'), 'utf8')).toBe(envBefore);
      expect(await runningImages()).toEqual(containersBefore);
      expect(await backupsIn(platform.root)).toEqual([]);
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    'status --follow shows every step in order with its duration and exits 0',
    async () => {
      expect((await aegisUpgrade(['start', '1.3.0'])).exitCode).toBe(0);
      const followed = await aegisUpgrade(['status', '--follow']);
      expect(followed.exitCode).toBe(0);
      const titles = [
        'Pre-flight checks',
        'Redeploy core',
        'Check the runtime migrations and readiness',
        'Validate the platform',
      ];
      const positions = titles.map((title) => followed.stdout.indexOf(`✓ ${title} (`));
      expect(positions.every((position) => position >= 0)).toBe(true);
      expect([...positions].sort((a, b) => a - b)).toEqual(positions);
      expect(followed.stdout).toMatch(/✓ Redeploy core \(\d+\.\d s\)/);
      expect(followed.stdout).toContain('- Redeploy database — unchanged, not redeployed');
      const history = await aegisUpgrade(['history', '--json']);
      expect(JSON.parse(history.stdout)[0]).toMatchObject({
        fromVersion: '1.2.0',
        toVersion: '1.3.0',
        phase: 'completed',
        startedBy: 'hand',
      });
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    'a schedule runs an upgrade, skips a trigger that overlaps, and pauses after a rollback',
    async () => {
      await worker?.stop();
      // The schedule is environment weekly's: its upgrades go to weekly's task queue, which this worker serves.
      worker = await platform.startWorker({ AEGIS_SANDBOX_REDEPLOY_DELAY: '3', AEGIS_ENVIRONMENT: 'weekly' });
      const created = await aegisUpgrade([
        'schedule',
        'create',
        '--env',
        'weekly',
        '--version',
        '1.3.2',
        '--cron',
        '0 3 * * SUN',
      ]);
      expect(created.exitCode).toBe(0);
      expect((await aegisUpgrade(['schedule', 'trigger', '--env', 'weekly'])).exitCode).toBe(0);
      const schedule = platform.client.schedule.getHandle('aegis-upgrade-weekly');
      await waitFor(async () => (await schedule.describe()).info.recentActions.length === 1);
      expect((await aegisUpgrade(['schedule', 'trigger', '--env', 'weekly'])).exitCode).toBe(0);

      // 1.3.2 never gets ready: the scheduled upgrade rolls back, and the schedule pauses itself.
      await waitFor(async () => (await schedule.describe()).state.paused, SCENARIO_TIMEOUT_MS);
      const description = await schedule.describe();
      expect(description.info.recentActions).toHaveLength(1);
      expect(description.info.numActionsSkippedOverlap).toBe(1);
      const history = JSON.parse((await aegisUpgrade(['history', '--env', 'weekly', '--json'])).stdout);
      expect(history).toHaveLength(1);
      expect(history[0]).toMatchObject({ toVersion: '1.3.2', phase: 'rolled-back', startedBy: 'schedule' });
      const listed = await aegisUpgrade(['schedule', 'list']);
      expect(listed.stdout).toMatch(/aegis-upgrade-weekly\s+paused/);
      expect((await aegisUpgrade(['schedule', 'delete', '--env', 'weekly'])).exitCode).toBe(0);
    },
    SCENARIO_TIMEOUT_MS,
  );

  test(
    'the temporal schedule lines of docs/temporal-recipes.md create and trigger a schedule that runs the upgrade',
    async () => {
      const created = await temporal([
        'schedule',
        'create',
        '--schedule-id',
        'aegis-upgrade-nightly',
        '--cron',
        '0 3 * * SUN',
        '--type',
        'upgradePlatform',
        '--task-queue',
        'aegis-upgrades',
        '--workflow-id',
        'aegis-upgrade-default',
        '--input',
        '{"targetVersion":"1.3.0"}',
        '--overlap-policy',
        'Skip',
        '--pause-on-failure',
      ]);
      expect(created.exitCode).toBe(0);
      expect((await temporal(['schedule', 'trigger', '--schedule-id', 'aegis-upgrade-nightly'])).exitCode).toBe(0);
      const schedule = platform.client.schedule.getHandle('aegis-upgrade-nightly');
      await waitFor(async () => (await schedule.describe()).info.recentActions.length === 1);
      const [action] = (await schedule.describe()).info.recentActions;
      const run = platform.client.workflow.getHandle(action?.action.workflow.workflowId ?? '');
      const report: UpgradeReport = await run.result();
      expect(report.phase).toBe('completed');
      const progress: UpgradeProgress = await run.query(progressQuery);
      expect(progress.toVersion).toBe('1.3.0');
      await schedule.delete();
    },
    SCENARIO_TIMEOUT_MS,
  );
  test(
    'rollback puts a completed 1.2.0 → 1.3.0 back: refused --to a version never left, naming the choices; --plan ' +
      'names the backup and the writes it discards, changing nothing; then the downgrade restores the database',
    async () => {
      expect((await aegisUpgrade(['start', '1.3.0', '--follow'])).exitCode).toBe(0);
      expect(await psql('select count(*) from _sqlx_migrations')).toBe('4');
      // Written on 1.3.0, after the upgrade's backup: the rollback discards it, as its plan says.
      await psql(
        "insert into agents (id, name, version, status, manifest) values ('b0000000-0000-4000-8000-00000000cafe', " +
          "'written-on-1.3.0', '1.0.0', 'active', '{}')",
      );

      const refused = await aegisUpgrade(['rollback', '--to', '1.1.0']);
      expect(refused.exitCode).toBe(1);
      expect(refused.all).toContain(
        'No completed upgrade of environment default left 1.1.0; the versions it can go back to: 1.2.0 (left by ' +
          '1.2.0 → 1.3.0, aegis-upgrade-default run ',
      );

      const planned = await aegisUpgrade(['rollback', '--plan']);
      expect(planned.exitCode).toBe(0);
      expect(planned.stdout).toContain('Rollback of default: 1.3.0 → 1.2.0, putting back 1.2.0 → 1.3.0');
      expect(planned.stdout).toMatch(
        /^Restores backup \S+-1\.2\.0-to-1\.3\.0: the writes to aegis from \d{4}-\d\d-\d\dT\S+Z until the restore are discarded/m,
      );
      expect(planned.stdout).toContain('Plan: 1.3.0 → 1.2.0 (nothing was changed)');
      expect(await imageTag(platform.root)).toBe('1.3.0');

      const rolledBack = await aegisUpgrade(['rollback', '--follow']);
      expect({ exitCode: rolledBack.exitCode, all: rolledBack.all }).toMatchObject({ exitCode: 0 });
      expect(await imageTag(platform.root)).toBe('1.2.0');
      expect(await runtimeImage()).toMatch(/aegis-runtime:1\.2\.0$/);
      expect(await psql('select count(*) from _sqlx_migrations')).toBe('3');
      expect(await psql("select count(*) from agents where name = 'written-on-1.3.0'")).toBe('0');
    },
    SCENARIO_TIMEOUT_MS,
  );
});

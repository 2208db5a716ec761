import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import {
  componentImageTag,
  databaseClusterStorage,
  withComponentImageTag,
  type ComponentPod,
} from '../../src/activities/component-tags';
import { readDeployEnv } from '../../src/host/env-file';
import { readPodDefinition } from '../../src/host/pod-definitions';
import { sandboxFaults, type Fault } from '../helpers/faults';
import { clearServer, commandLog, psql, usePlatform, waitFor } from '../helpers/platform';
import { MissingDependency, REPO_ROOT } from '../helpers/repo';
import { sandbox } from '../helpers/sandbox';
import type { WorkerProcess } from '../helpers/worker-process';

const SCENARIO_TIMEOUT_MS = 10 * 60_000;
/** What one CLI command of a scenario may take: well inside the scenario's timeout, so its outcome is seen. */
const CLI_TIMEOUT_MS = 7 * 60_000;
const CLI = path.join(REPO_ROOT, 'bin', 'aegis-upgrade.js');
/** The real Temporal releases the sandbox builds for these tests (`sandbox.sh images temporal …`). */
const TEMPORAL_FROM = '1.22.6';
const TEMPORAL_TO = '1.23.1';
/** The restore of the cluster dump into the new major: `podman exec -i aegis-database-postgres psql -X -q …`. */
const RESTORE_COMMAND = 'podman exec -i aegis-database-postgres psql -X -q *';

/** The named volume pod-database.yaml gives PostgreSQL's data, as the real checkout does. */
const DATA_VOLUME = 'aegis-postgres-data';

/** Where the platform user's podman keeps a named volume's files (the tests' podman is that user's). */
async function volumeMountpoint(volume: string): Promise<string> {
  return (await execa('podman', ['volume', 'inspect', '--format', '{{.Mountpoint}}', volume])).stdout.trim();
}

const lastLines = (text: string, count: number) => text.trimEnd().split('\n').slice(-count).join('\n');
const lastWarnings = (text: string, count: number) =>
  text
    .split('\n')
    .filter((line) => /\b(WARN|ERROR)\b/.test(line))
    .slice(-count)
    .join('\n');

/**
 * Every database, role and table of the platform's cluster: per table its row count and an md5 of its rows in order,
 * computed here, apart from the upgrade's own fingerprint.
 */
async function clusterContent(): Promise<Record<string, string>> {
  const content: Record<string, string> = {
    roles: await psql(
      "select string_agg(rolname, ',' order by rolname) from pg_roles where rolname !~ '^pg_'",
      'postgres',
    ),
  };
  const databases = (
    await psql(
      "select datname from pg_database where not datistemplate and datname <> 'postgres' order by 1",
      'postgres',
    )
  ).split('\n');
  for (const database of databases) {
    const tables = (
      await psql(
        "select format('%I.%I', schemaname, tablename) from pg_tables where schemaname not in ('pg_catalog', 'information_schema') order by 1",
        database,
      )
    )
      .split('\n')
      .filter(Boolean);
    for (const table of tables) {
      content[`${database}.${table}`] = await psql(
        `select count(*) || ' ' || md5(coalesce(string_agg(t::text, E'\\n' order by t::text), '')) from ${table} t`,
        database,
      );
    }
  }
  return content;
}

async function serverVersion(): Promise<string> {
  return psql('show server_version', 'postgres');
}

/**
 * The platform's own components upgraded on the sandbox by the real worker: PostgreSQL 15 → 16 (the real 16.2 of the
 * pgserver wheel), its rollback and a worker killed in its data step, and the platform's Temporal from one real release
 * to the next (built from source), its refusal to skip a minor and its rollback onto restored databases.
 */
describe('PostgreSQL and Temporal upgrades of the platform, on the sandbox', () => {
  const platform = usePlatform();
  let worker: WorkerProcess | undefined;
  let faults: ReturnType<typeof sandboxFaults>;

  /** The CLI, stopped before the scenario's own timeout: a scenario that hangs fails with what was said until then. */
  const cli = (args: string[]) =>
    execa('node', [CLI, ...args], { env: platform.env, reject: false, all: true, timeout: CLI_TIMEOUT_MS });
  /**
   * A command's exit code beside its output: a failed expectation shows what the CLI said; one that did not end in
   * time, also the worker's last lines and the sandbox's last commands, where the hang shows.
   */
  const outcome = ({ exitCode, all, timedOut }: { exitCode?: number; all?: string; timedOut?: boolean }) =>
    timedOut
      ? `exit ${exitCode} (no end after ${CLI_TIMEOUT_MS / 60_000} min)\n${all ?? ''}\n` +
        `--- the worker's last warnings (a retried activity's error):\n${lastWarnings(worker?.output() ?? '', 3)}\n` +
        `--- the worker's last lines:\n${lastLines(worker?.output() ?? '', 60)}\n` +
        `--- the journal's last commands (a hung one has no end):\n` +
        lastLines(readFileSync(platform.env.AEGIS_SANDBOX_COMMANDS_RUN ?? '/dev/null', 'utf8'), 30)
      : `exit ${exitCode}\n${all ?? ''}`;
  const startWorker = async () => {
    worker = await platform.startWorker({ PATH: faults.workerPath() });
    return worker;
  };
  const withFault = async (fault: Fault) => faults.add(fault);
  const definitionOf = (pod: string) => readPodDefinition(platform.root, pod);
  const imageTagOf = async (pod: ComponentPod) => componentImageTag(await definitionOf(pod), pod);

  beforeAll(() => {
    faults = sandboxFaults(platform.env);
  });
  beforeEach(async () => {
    await sandbox('reset');
  }, SCENARIO_TIMEOUT_MS);
  afterEach(async () => {
    await clearServer(platform.client);
    await worker?.stop();
    worker = undefined;
  }, SCENARIO_TIMEOUT_MS);
  afterAll(async () => {
    // The next file starts from PostgreSQL 15 and the stand-in Temporal, as every scenario's reset leaves them.
    await sandbox('reset');
  }, SCENARIO_TIMEOUT_MS);

  describe('PostgreSQL', () => {
    /** The database pod on PostgreSQL 15.5 (pgserver 0.0.9's, a second 15.x), on its data: where a minor starts. */
    const runPostgres155 = async () => {
      const definition = await definitionOf('database');
      await fs.writeFile(definition.file, withComponentImageTag(definition, 'database', '15.5-alpine'));
      await execa('make', ['-C', platform.root, 'redeploy', 'POD=database'], { env: platform.env });
      await waitFor(async () => (await serverVersion().catch(() => '')) === '15.5', 60_000);
      await waitFor(async () => {
        const ready = await fetch(`${platform.env.AEGIS_RUNTIME_URL}/health/ready`).catch(() => undefined);
        return ((await ready?.json()) as { status?: string } | undefined)?.status === 'ready';
      }, 60_000);
    };

    test(
      'minor 15.5 → 15.18: the new version runs, every table identical',
      async () => {
        await runPostgres155();
        const before = await clusterContent();
        await startWorker();

        const upgrade = await cli(['component', 'start', 'postgres', '15.18', '--follow']);
        expect(outcome(upgrade)).toMatch(/^exit 0\n/);

        expect(await serverVersion()).toMatch(/^15\.18 /);
        expect(await imageTagOf('database')).toBe('15.18-alpine');
        expect(await clusterContent()).toEqual(before);
      },
      SCENARIO_TIMEOUT_MS,
    );

    test(
      'minor 15.5 → 15.18 whose database never gets ready: back on 15.5, every table identical',
      async () => {
        await runPostgres155();
        const before = await clusterContent();
        // The new version's pod stops right after its redeploy. Once: the rollback's redeploy is real.
        await withFault({ action: 'once:stop-after:database', command: 'make * redeploy POD=database *' });
        await startWorker();

        const upgrade = await cli(['component', 'start', 'postgres', '15.18', '--follow']);
        expect(outcome(upgrade)).toMatch(/^exit 1\n/);
        expect(upgrade.all).toContain('Result: rolled-back');

        expect(await serverVersion()).toBe('15.5');
        expect(await imageTagOf('database')).toBe('15.5-alpine');
        expect(await clusterContent()).toEqual(before);
      },
      SCENARIO_TIMEOUT_MS,
    );

    test(
      '15 → 16: every table identical, the runtime healthy, the old cluster kept on its volume',
      async () => {
        const before = await clusterContent();
        expect(await serverVersion()).toMatch(/^15\./);
        await startWorker();

        const upgrade = await cli(['component', 'start', 'postgres', '16', '--follow']);
        expect(outcome(upgrade)).toMatch(/^exit 0\n/);

        expect(await serverVersion()).toBe('16.2');
        expect(await clusterContent()).toEqual(before);
        expect(await imageTagOf('database')).toBe('16-alpine');
        // The new cluster on its own named volume, as on a real host; the old one stays, untouched, for a rollback.
        expect(databaseClusterStorage(await definitionOf('database'))).toEqual({ volume: `${DATA_VOLUME}-16` });
        await expect(fs.readFile(path.join(await volumeMountpoint(DATA_VOLUME), 'PG_VERSION'), 'utf8')).resolves.toBe(
          '15\n',
        );
        const ready = await fetch(`${platform.env.AEGIS_RUNTIME_URL}/health/ready`);
        expect(await ready.json()).toMatchObject({ status: 'ready', dependencies: { database: true } });

        const history = await cli(['history', '--json']);
        expect(history.stdout).toContain('postgres 16');
      },
      SCENARIO_TIMEOUT_MS,
    );

    test(
      '15 → 16 with btree_gin in use, which 16 lacks: refused by pre-flight, naming it, before anything stops',
      async () => {
        await psql('create extension btree_gin', 'aegis');
        await startWorker();
        const commandsBefore = (await commandLog(platform.env)).length;

        const upgrade = await cli(['component', 'start', 'postgres', '16', '--follow']);
        expect(outcome(upgrade)).toMatch(/^exit 1\n/);
        expect(upgrade.all).toContain('lacks extensions the cluster uses: btree_gin (in aegis)');

        expect(await serverVersion()).toMatch(/^15\./);
        expect(await imageTagOf('database')).toBe('15-alpine');
        const commands = (await commandLog(platform.env)).slice(commandsBefore);
        expect(commands.filter((line) => line.includes('pod stop'))).toEqual([]);
        const ready = await fetch(`${platform.env.AEGIS_RUNTIME_URL}/health/ready`);
        expect(await ready.json()).toMatchObject({ status: 'ready', dependencies: { database: true } });
      },
      SCENARIO_TIMEOUT_MS,
    );

    test(
      'a failure after the new cluster started: back on 15 on the original volume, identical',
      async () => {
        const before = await clusterContent();
        // The restore into the running 16 fails (each attempt): the new cluster has started, the old one is stopped.
        await withFault({ action: 'fail', command: RESTORE_COMMAND });
        await startWorker();

        const upgrade = await cli(['component', 'start', 'postgres', '16', '--follow']);
        expect(outcome(upgrade)).toMatch(/^exit 1\n/);
        expect(upgrade.all).toContain('Result: rolled-back');

        expect(await serverVersion()).toMatch(/^15\./);
        expect(await clusterContent()).toEqual(before);
        expect(await imageTagOf('database')).toBe('15-alpine');
        expect(databaseClusterStorage(await definitionOf('database'))).toEqual({ volume: DATA_VOLUME });
        const ready = await fetch(`${platform.env.AEGIS_RUNTIME_URL}/health/ready`);
        expect(await ready.json()).toMatchObject({ status: 'ready', dependencies: { database: true } });
      },
      SCENARIO_TIMEOUT_MS,
    );

    test(
      'the worker SIGKILLed in the restore: a new worker finishes the upgrade or rolls it back, nothing lost',
      async () => {
        const before = await clusterContent();
        const pause: Fault = { action: 'pause', command: RESTORE_COMMAND };
        await withFault(pause);
        await startWorker();
        const started = await cli(['component', 'start', 'postgres', '16']);
        expect(outcome(started)).toMatch(/^exit 0\n/);

        await faults.paused();
        await worker?.killTree();
        await faults.remove(pause);
        await startWorker();

        const followed = await cli(['status', '--follow']);
        // Completed on 16.2, or rolled back on 15; anything else (an error of --follow) fails, with what it said.
        const ended = `${outcome(followed)}\nserver ${await serverVersion()}`;
        expect(ended).toMatch(followed.exitCode === 0 ? /server 16\.2$/ : /Result: rolled-back[\s\S]*server 15\./);
        expect(await clusterContent()).toEqual(before);
        await expect(fs.access(path.join(platform.root, '.aegis-upgrade.clients-stopped'))).rejects.toThrow();
      },
      SCENARIO_TIMEOUT_MS,
    );
  });

  describe('Temporal', () => {
    beforeAll(async () => {
      // Built from source once (minutes), then cached outside the checkout.
      const built = await execa(
        'bash',
        [path.join(REPO_ROOT, 'sandbox', 'sandbox.sh'), 'images', 'temporal', TEMPORAL_FROM, TEMPORAL_TO],
        { reject: false, all: true },
      );
      if (built.failed) {
        throw new MissingDependency(
          `\`sandbox.sh images temporal ${TEMPORAL_FROM} ${TEMPORAL_TO}\` failed (exit ${built.exitCode}):\n${built.all}`,
          'It builds Temporal releases with `go install` (the Go module proxy): see scripts/temporal-server.sh',
        );
      }
    }, 30 * 60_000);

    /** Empty `temporal` and `temporal_visibility` databases, as a new sandbox has them. */
    const emptyTemporalDatabases = async () => {
      for (const database of ['temporal', 'temporal_visibility']) {
        await psql(`drop database if exists ${database} with (force)`, 'postgres');
        await psql(`create database ${database}`, 'postgres');
      }
    };
    // The real schema uses the extension btree_gin, which the sandbox's PostgreSQL 16 (pgserver's build) lacks:
    // the files after this one find the databases as a new sandbox has them.
    afterAll(async () => {
      await sandbox('reset');
      await emptyTemporalDatabases();
    }, SCENARIO_TIMEOUT_MS);

    /** The platform's temporal pod on a real release, on fresh `temporal` and `temporal_visibility` databases. */
    const runRealTemporal = async (version: string) => {
      await emptyTemporalDatabases();
      const definition = await definitionOf('temporal');
      await fs.writeFile(definition.file, withComponentImageTag(definition, 'temporal', version));
      await execa('make', ['-C', platform.root, 'redeploy', 'POD=temporal'], { env: platform.env });
      // Its server starts once both schemas are complete; schema_version shows each step before that (0.0, … 1.9, 1.10).
      await waitFor(async () => (await systemInfo().catch(() => undefined))?.serverVersion === version);
    };
    const schemaVersion = () =>
      psql(
        "select coalesce((select curr_version from schema_version limit 1), '') where to_regclass('schema_version') is not null",
        'temporal',
      ).catch(() => '');
    const systemInfo = async () => {
      const port = (await readDeployEnv(platform.root)).get('AEGIS_SANDBOX_TEMPORAL_GRPC_PORT');
      const { stdout } = await execa('npm', [
        'run',
        '--silent',
        'temporal',
        '--',
        'operator',
        'cluster',
        'system',
        '--address',
        `127.0.0.1:${port}`,
        '-o',
        'json',
      ]);
      return JSON.parse(stdout) as { serverVersion: string };
    };

    test(
      `${TEMPORAL_FROM} → ${TEMPORAL_TO} completes: the schema migrated, the new server answers`,
      async () => {
        await runRealTemporal(TEMPORAL_FROM);
        expect(await schemaVersion()).toBe('1.10');
        await startWorker();

        const upgrade = await cli(['component', 'start', 'temporal', TEMPORAL_TO, '--follow']);
        expect(outcome(upgrade)).toMatch(/^exit 0\n/);

        expect(await schemaVersion()).toBe('1.11');
        expect(await imageTagOf('temporal')).toBe(TEMPORAL_TO);
        await waitFor(async () => (await systemInfo().catch(() => undefined))?.serverVersion === TEMPORAL_TO, 60_000);
      },
      SCENARIO_TIMEOUT_MS,
    );

    test(
      `${TEMPORAL_FROM} → 1.24 is refused before any change, naming the steps`,
      async () => {
        await runRealTemporal(TEMPORAL_FROM);
        await startWorker();
        const log = await commandLog(platform.env);

        // Outside the runtime's range, and two minors at once even with the range overridden.
        const refused = await cli(['component', 'start', 'temporal', '1.24.2', '--follow']);
        expect(outcome(refused)).toMatch(
          /^exit [1-9]\n.*outside the range AEGIS runtime 0\.x supports \(1\.22–1\.23\)/,
        );
        const skipping = await cli(['component', 'start', 'temporal', '1.24.2', '--allow-unsupported', '--follow']);
        expect(outcome(skipping)).toMatch(/^exit [1-9]\n/);
        expect(skipping.all).toContain('1.22 → 1.23 → 1.24');
        expect(await imageTagOf('temporal')).toBe(TEMPORAL_FROM);
        expect(await commandLog(platform.env)).toEqual(log);
        expect(await schemaVersion()).toBe('1.10');
      },
      SCENARIO_TIMEOUT_MS,
    );

    test(
      'a failure after the schema migrated: the databases restored, the previous server running on them',
      async () => {
        await runRealTemporal(TEMPORAL_FROM);
        // The new server migrates the schema, then its pod stops: never ready. Once: the rollback's redeploy is real.
        await withFault({ action: 'once:stop-after:temporal', command: 'make * redeploy POD=temporal *' });
        await startWorker();

        const upgrade = await cli(['component', 'start', 'temporal', TEMPORAL_TO, '--follow']);
        expect(outcome(upgrade)).toMatch(/^exit 1\n/);
        expect(upgrade.all).toContain('Result: rolled-back');

        expect(await imageTagOf('temporal')).toBe(TEMPORAL_FROM);
        expect(await schemaVersion()).toBe('1.10');
        await waitFor(async () => (await systemInfo().catch(() => undefined))?.serverVersion === TEMPORAL_FROM, 60_000);
      },
      SCENARIO_TIMEOUT_MS,
    );
  });
});

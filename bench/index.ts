/**
 * `npm run bench`: our upgrade against the operator guide's commands typed as a script, on the same sandbox platform,
 * in one run. Every figure is measured here; ratios are against baselines measured in this same run. Prints one table
 * and writes the figures to bench-results/<time>.json, so two runs can be compared (docs/benchmark.md).
 *
 * AEGIS_BENCH_RUNS (default 5): how many times the guide and our upgrade each run, alternately, for min/median/max.
 * AEGIS_BENCH_SCALE (default 1,10,100): the numbers of concurrent stand-in upgrades of the scale figure.
 */
import { ApplicationFailure, Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { execa } from 'execa';
import fs from 'node:fs/promises';
import path from 'node:path';
import { readDeployEnv } from '../src/host/env-file';
import { loadTemporalConfig } from '../src/config';
import { taskQueueFor } from '../src/core/environments';
import { UPGRADE_WORKFLOW_TYPE, upgradeWorkflowId, type UpgradeReport, type UpgradeRequest } from '../src/core/upgrade';
import { MATRIX_RESULTS, matrixSummary, readMatrixResults } from '../test/helpers/matrix-tally';
import { REPO_ROOT } from '../test/helpers/repo';
import { sandbox, sandboxEnv } from '../test/helpers/sandbox';
import { startDevServer, temporalCliBinary } from '../test/helpers/temporal-server';
import { asCheckoutOwner, startWorker, type WorkerProcess } from '../test/helpers/worker-process';
import { median, orchestrationFigures, type OrchestrationFigures } from './history';
import { downSeconds, sandboxServices, startProber, type Outage, type ProbedService } from './prober';
import { DEFAULT_SCALE_COUNTS, formatScaleTable, measureScale } from './scale';

const FROM_VERSION = '1.2.0';
const TO_VERSION = '1.3.0';
/** The sandbox's release whose migrations fail: the rollback's figure. */
const FAILING_VERSION = '1.3.1';
const PODS = ['database', 'core', 'temporal', 'seal-gateway', 'observability'] as const;
const GUIDE_SCRIPT = path.join(REPO_ROOT, 'bench', 'guide-upgrade.sh');
const RESULTS_DIR = path.join(REPO_ROOT, 'bench-results');

/** One upgrade 1.2.0 → 1.3.0, by the guide's script or by us. */
interface UpgradeRun {
  wallSeconds: number;
  /** Seconds each step took, by step id (`redeploy:core`, …). */
  steps: Record<string, number>;
  /** Seconds each pod's service did not answer its health endpoint. */
  downtime: Record<string, number>;
  outages: Record<string, Outage[]>;
}

interface OursRun extends UpgradeRun {
  /** Each command the worker ran, as its log line tells it, with the second (after the start) it ended. */
  commands: string[];
  orchestration: Omit<OrchestrationFigures, 'activities'> & {
    activities: { name: string; runMs: number; overheadMs: number }[];
  };
}

interface RollbackFigures {
  failedStep: string;
  /** From the failed step's end to the last rollback step's end. */
  rollbackSeconds: number;
  /** From the first change (the tag set) to the failure: the forward work the rollback undid. */
  forwardSeconds: number;
  rollbackSteps: Record<string, number>;
  /** The forward steps the rollback undid, seconds each, by step id. */
  forwardSteps: Record<string, number>;
  /** Each command the worker ran during the rollback, as its log line tells it (command and duration). */
  commands: string[];
  history: { events: number; bytes: number };
}

function say(text: string): void {
  console.log(`[bench] ${text}`);
}

const seconds = (ms: number) => Math.round(ms) / 1000;

class Bench {
  private constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
    private readonly root: string,
    private readonly registry: string,
    private readonly services: ProbedService[],
    private readonly worker: WorkerProcess,
    private readonly temporalCli: string,
    private readonly address: string,
  ) {}

  static async create(client: Client, env: Record<string, string>, worker: WorkerProcess): Promise<Bench> {
    const temporalCli = await temporalCliBinary();
    const root = env.AEGIS_ROOT ?? '';
    const deployEnv = Object.fromEntries(await readDeployEnv(root));
    const services = sandboxServices(deployEnv, {
      user: deployEnv.POSTGRES_USER ?? 'aegis',
      password: deployEnv.POSTGRES_PASSWORD ?? '',
    });
    return new Bench(
      client,
      taskQueueFor('default', loadTemporalConfig(env).taskQueue),
      root,
      env.AEGIS_REGISTRY ?? '',
      services,
      worker,
      temporalCli,
      env.TEMPORAL_ADDRESS ?? '',
    );
  }

  /** The platform back on 1.2.0, every service answering: each measured run starts from the same state. */
  private async freshPlatform(): Promise<void> {
    await sandbox('reset');
    const deadline = Date.now() + 120_000;
    for (;;) {
      const answers = await Promise.all(this.services.map((service) => service.probe()));
      if (answers.every(Boolean)) return;
      if (Date.now() > deadline) {
        const down = this.services.filter((_, index) => !answers[index]).map((service) => service.pod);
        throw new Error(`The sandbox did not come back healthy after a reset: ${down.join(', ')} down`);
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  private async probed<T>(work: () => Promise<T>): Promise<UpgradeRun & { result: T }> {
    const prober = startProber(this.services);
    const started = performance.now();
    // Stopped either way: a prober left running would keep the bench alive.
    const result = await work().catch(async (error: unknown) => {
      await prober.stop();
      throw error;
    });
    const outages = await prober.stop();
    const wallSeconds = seconds(performance.now() - started);
    const downtime = Object.fromEntries(Object.entries(outages).map(([pod, list]) => [pod, downSeconds(list)]));
    return { result, wallSeconds, steps: {}, downtime, outages };
  }

  async guide(run: number): Promise<UpgradeRun> {
    await this.freshPlatform();
    const backup = path.join(this.root, 'backups', `bench-guide-${run}.sql`);
    await fs.mkdir(path.dirname(backup), { recursive: true });
    // The operator types the guide's commands as the platform's user, whose pods these are (rootless).
    const { command, env } = asCheckoutOwner(
      { file: 'bash', args: [GUIDE_SCRIPT, this.root, this.registry, TO_VERSION, backup] },
      { AEGIS_ROOT: this.root },
    );
    const measured = await this.probed(() => execa(command.file, command.args, { env }));
    await fs.rm(backup, { force: true });
    const { wallSeconds, downtime, outages } = measured;
    const steps = Object.fromEntries(
      measured.result.stdout
        .split('\n')
        .filter(Boolean)
        .map((line) => line.split(' ') as [string, string])
        .map(([step, time]) => [step, Number(time)]),
    );
    return { wallSeconds, downtime, outages, steps };
  }

  /**
   * Our upgrade as an operator runs it (docs/temporal-recipes.md): `temporal workflow start`, then `temporal workflow
   * result`, each a new process with its own connection, timed from the first command's start to the second's end.
   */
  async ours(request: UpgradeRequest = { targetVersion: TO_VERSION }): Promise<OursRun> {
    await this.freshPlatform();
    const workflowId = upgradeWorkflowId('default');
    const logFrom = this.worker.output().length;
    const startedAt = new Date().toISOString();
    const temporal = (args: string[]) => execa(this.temporalCli, [...args, '--address', this.address]);
    const measured = await this.probed(async () => {
      await temporal([
        ...['workflow', 'start', '--type', UPGRADE_WORKFLOW_TYPE, '--task-queue', this.taskQueue],
        ...['--workflow-id', workflowId, '--input', JSON.stringify(request)],
      ]);
      await temporal(['workflow', 'result', '--workflow-id', workflowId]);
    });
    const handle = this.client.workflow.getHandle(workflowId);
    const report = (await handle.result()) as UpgradeReport;
    const figures = orchestrationFigures(await handle.fetchHistory());
    return {
      wallSeconds: measured.wallSeconds,
      downtime: measured.downtime,
      outages: measured.outages,
      steps: Object.fromEntries(report.steps.map((step) => [step.id, seconds(step.durationMs ?? 0)])),
      commands: commandTimeline(this.worker.output().slice(logFrom), startedAt),
      orchestration: {
        ...figures,
        activities: figures.activities.map((activity) => ({
          name: activity.name,
          runMs: activity.endedAt - activity.startedAt,
          overheadMs: activity.overheadMs,
        })),
      },
    };
  }

  /** 1.2.0 → 1.3.1: its migrations fail, the upgrade rolls back (the database restored). */
  async rollback(): Promise<RollbackFigures> {
    await this.freshPlatform();
    const handle = await this.client.workflow.start(UPGRADE_WORKFLOW_TYPE, {
      taskQueue: this.taskQueue,
      workflowId: upgradeWorkflowId('default'),
      args: [{ targetVersion: FAILING_VERSION }],
    });
    const logFrom = this.worker.output().length;
    const report = await handle.result().then(
      () => {
        throw new Error(`The upgrade to ${FAILING_VERSION} completed: the sandbox's failing release did not fail`);
      },
      (error: unknown) => {
        if (error instanceof WorkflowFailedError && error.cause instanceof ApplicationFailure) {
          return error.cause.details?.[0] as UpgradeReport;
        }
        throw error;
      },
    );
    const failed = report.steps.find((step) => step.status === 'failed');
    const setTag = report.steps.find((step) => step.id === 'set-tag');
    const lastRollbackStep = report.rollback.at(-1);
    if (!failed?.endedAt || !setTag?.startedAt || !lastRollbackStep?.endedAt) {
      throw new Error(`The rolled-back upgrade's report lacks its timings: ${JSON.stringify(report.steps)}`);
    }
    const figures = orchestrationFigures(await handle.fetchHistory());
    const undone = report.steps.slice(report.steps.indexOf(setTag), report.steps.indexOf(failed) + 1);
    return {
      failedStep: failed.id,
      forwardSteps: Object.fromEntries(undone.map((step) => [step.id, seconds(step.durationMs ?? 0)])),
      commands: commandTimeline(this.worker.output().slice(logFrom), failed.endedAt),
      rollbackSeconds: seconds(Date.parse(lastRollbackStep.endedAt) - Date.parse(failed.endedAt)),
      forwardSeconds: seconds(Date.parse(failed.endedAt) - Date.parse(setTag.startedAt)),
      rollbackSteps: Object.fromEntries(report.rollback.map((step) => [step.id, seconds(step.durationMs ?? 0)])),
      history: { events: figures.events, bytes: figures.bytes },
    };
  }
}

/**
 * The worker's command lines logged after `since` (each is logged when its command ends), as `<end> <message>`: `end`
 * is seconds after `since`, so the lines read as a timeline.
 */
function commandTimeline(log: string, since: string): string[] {
  const from = Date.parse(since);
  return log
    .split('\n')
    .filter((line) => line.includes(' command `'))
    .map((line) => ({ at: Date.parse(line.slice(0, line.indexOf(' '))), line }))
    .filter(({ at }) => at >= from)
    .map(({ at, line }) => `+${fixed((at - from) / 1000)} s ${line.slice(line.indexOf('command `'))}`);
}

/** The rollback against the forward work it undid, each side step by step, and the rollback's commands. */
function rollbackSummary(rollback: RollbackFigures): string {
  const steps = (record: Record<string, number>) =>
    Object.entries(record)
      .map(([id, value]) => `${id} ${fixed(value)}`)
      .join(', ');
  return [
    `rollback (${FAILING_VERSION}, ${rollback.failedStep} failed): ${rollback.rollbackSeconds} s from the failure ` +
      `to rolled back, against ${rollback.forwardSeconds} s of forward work undone ` +
      `(ratio ${fixed(rollback.rollbackSeconds / rollback.forwardSeconds)})`,
    `  forward, s: ${steps(rollback.forwardSteps)}`,
    `  rollback, s: ${steps(rollback.rollbackSteps)}`,
    `  the rollback's commands (seconds after the failure when each ended):`,
    ...rollback.commands.map((line) => `    ${line}`),
  ].join('\n');
}

/** min / median / max of one figure over the runs. */
function spread(values: number[]): { min: number; median: number; max: number } {
  return { min: Math.min(...values), median: median(values), max: Math.max(...values) };
}

const fixed = (value: number, digits = 2) => (Number.isFinite(value) ? value.toFixed(digits) : '-');
const triple = (values: number[]) => {
  const { min, median: middle, max } = spread(values);
  return `${fixed(min)} / ${fixed(middle)} / ${fixed(max)}`;
};

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('   ')).join('\n');
}

/** The guide against each of our configurations, every figure as min / median / max over the runs. */
function comparison(guide: UpgradeRun[], configurations: [string, OursRun[]][]): string {
  const totalDown = (run: UpgradeRun) => Object.values(run.downtime).reduce((sum, value) => sum + value, 0);
  const row = (label: string, of: (run: UpgradeRun) => number | undefined): string[] => {
    const values = (runs: UpgradeRun[]) => runs.map(of).filter((value): value is number => value !== undefined);
    const g = values(guide);
    return [
      label,
      g.length ? triple(g) : '-',
      ...configurations.flatMap(([, runs]) => {
        const o = values(runs);
        return [o.length ? triple(o) : '-', fixed(median(o) / median(g))];
      }),
    ];
  };
  return table([
    ['', 'guide by hand', ...configurations.flatMap(([name]) => [name, 'ratio'])],
    row('wall time, from the command, s', (run) => run.wallSeconds),
    row('  the workflow alone (its history), s', (run) =>
      'orchestration' in run ? (run as OursRun).orchestration.wallMs / 1000 : undefined,
    ),
    row('downtime, all services, s', totalDown),
    ...PODS.map((pod) => row(`  downtime ${pod}, s`, (run) => run.downtime[pod])),
    ...PODS.map((pod) => row(`redeploy ${pod}, s`, (run) => run.steps[`redeploy:${pod}`])),
  ]);
}

function orchestrationTable(ours: OursRun[]): string {
  const overheads = ours.flatMap((run) => run.orchestration.activities.map((activity) => activity.overheadMs));
  const names = [...new Set(ours.flatMap((run) => run.orchestration.activities.map((activity) => activity.name)))];
  return table([
    ['orchestration (ours)', 'min / median / max'],
    ['workflow wall time, s', triple(ours.map((run) => run.orchestration.wallMs / 1000))],
    ['time an activity ran, s', triple(ours.map((run) => run.orchestration.busyMs / 1000))],
    ['overhead (wall - activities), s', triple(ours.map((run) => run.orchestration.overheadMs / 1000))],
    ['overhead per activity, ms', triple(overheads)],
    ...names.map((name) => [
      `  ${name}, ms`,
      triple(
        ours.flatMap((run) =>
          run.orchestration.activities.filter((activity) => activity.name === name).map((a) => a.overheadMs),
        ),
      ),
    ]),
  ]);
}

async function main(): Promise<void> {
  const runs = Number(process.env.AEGIS_BENCH_RUNS ?? 5);
  const scaleCounts = process.env.AEGIS_BENCH_SCALE?.split(',').map(Number) ?? DEFAULT_SCALE_COUNTS;
  say('bringing up the sandbox platform and a Temporal dev server');
  await sandbox('up');
  const server = await startDevServer();
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    ...(await sandboxEnv()),
    TEMPORAL_ADDRESS: server.address,
  };
  const worker = await startWorker(env);
  const connection = await Connection.connect({ address: server.address });
  try {
    const bench = await Bench.create(new Client({ connection }), env, worker);
    if (process.env.AEGIS_BENCH_ONLY === 'upgrade') {
      // Only our upgrade, `runs` times, each with its timeline: for work on the upgrade's speed.
      for (let run = 1; run <= runs; run++) {
        say(`run ${run}/${runs}: our upgrade, ${FROM_VERSION} → ${TO_VERSION}`);
        const measured = await bench.ours();
        console.log(`wall ${measured.wallSeconds} s; steps, s: ${JSON.stringify(measured.steps)}`);
        console.log(measured.commands.map((line) => `  ${line}`).join('\n'));
      }
      return;
    }
    if (process.env.AEGIS_BENCH_ONLY === 'rollback') {
      // Only the rollback, `runs` times: for work on the rollback's speed, in a minute rather than ten.
      for (let run = 1; run <= runs; run++) {
        say(`run ${run}/${runs}: the rollback, ${FROM_VERSION} → ${FAILING_VERSION}`);
        console.log(rollbackSummary(await bench.rollback()));
      }
      return;
    }
    const guide: UpgradeRun[] = [];
    const ours: OursRun[] = [];
    const concurrent: OursRun[] = [];
    // Interleaved, so that the sandbox's drift over the run (podman's pod removal is now 0.5 s, now 4 s) hits all alike.
    for (let run = 1; run <= runs; run++) {
      say(`run ${run}/${runs}: the guide's commands, ${FROM_VERSION} → ${TO_VERSION}`);
      guide.push(await bench.guide(run));
      say(`  ${guide.at(-1)?.wallSeconds} s`);
      say(`run ${run}/${runs}: our upgrade, ${FROM_VERSION} → ${TO_VERSION}`);
      ours.push(await bench.ours());
      say(`  ${ours.at(-1)?.wallSeconds} s`);
      say(`run ${run}/${runs}: our upgrade with concurrentAfterCore`);
      concurrent.push(await bench.ours({ targetVersion: TO_VERSION, concurrentAfterCore: true }));
      say(`  ${concurrent.at(-1)?.wallSeconds} s`);
    }
    say(`our upgrade ${FROM_VERSION} → ${TO_VERSION} redeploying every pod, as the guide does`);
    const allPods = await bench.ours({ targetVersion: TO_VERSION, redeployAll: true });
    say(`the rollback: ${FROM_VERSION} → ${FAILING_VERSION}, whose migrations fail`);
    const rollback = await bench.rollback();
    say(`scale: ${scaleCounts.join(', ')} concurrent upgrades on one worker, stand-in activities`);
    const scale = await measureScale(scaleCounts, say);

    const upgradeHistory = ours.at(-1)?.orchestration;
    console.log(
      `\n${FROM_VERSION} → ${TO_VERSION} on the sandbox, ${runs} runs each: every cell min / median / max, ` +
        `ratio = ours / guide (medians)\n`,
    );
    console.log(
      comparison(guide, [
        ['ours (default)', ours],
        ['ours, concurrentAfterCore', concurrent],
      ]),
    );
    console.log(
      `\nours redeploying every pod, as the guide does (one run): wall ${allPods.wallSeconds} s, downtime ` +
        `${fixed(Object.values(allPods.downtime).reduce((a, b) => a + b, 0))} s`,
    );
    console.log(`\n${orchestrationTable(ours)}`);
    console.log(`\n${rollbackSummary(rollback)}`);
    console.log(
      `history: upgrade ${upgradeHistory?.events} events, ${upgradeHistory?.bytes} bytes; ` +
        `rollback ${rollback.history.events} events, ${rollback.history.bytes} bytes`,
    );

    console.log(`\n${formatScaleTable(scale)}`);
    // The suite's figures are those of the last `npm test` here: the bench does not run the suite again.
    const suite = readMatrixResults();
    console.log(
      `\nthe test suite's fault matrix, as the last \`npm test\` in this checkout ran it ` +
        `(${path.relative(REPO_ROOT, MATRIX_RESULTS)}): ${matrixSummary(suite) ?? 'none recorded: `npm test` records it'}`,
    );

    await fs.mkdir(RESULTS_DIR, { recursive: true });
    const file = path.join(RESULTS_DIR, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    const commit = (await execa('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, reject: false })).stdout;
    await fs.writeFile(
      file,
      `${JSON.stringify({ commit, runs, guide, ours, concurrent, allPods, rollback, scale, suite }, null, 1)}\n`,
    );
    console.log(`\nfigures written to ${path.relative(REPO_ROOT, file)}`);
  } finally {
    await worker.stop();
    await connection.close();
    await server.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

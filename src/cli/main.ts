import { Client, Connection } from '@temporalio/client';
import { parseArgs } from 'node:util';
import { describeConnection, loadTemporalConfig } from '../config';
import { createSchedule, deleteSchedule, listSchedules, triggerSchedule } from './schedules';
import {
  UsageError,
  abortUpgrade,
  approveUpgrade,
  exitCode,
  planUpgrade,
  renderHistory,
  renderPlan,
  showStatus,
  startUpgrade,
  upgradeHistory,
  upgradeRequest,
} from './upgrades';
import { followUpgrade } from './follow';

const HELP: Record<string, string> = {
  '': `aegis-upgrade: upgrade the AEGIS platform through its Temporal worker

Commands:
  start <version>      start an upgrade            plan <version>   what an upgrade would change (dry run)
  status               the current or last upgrade approve          release a waiting approval gate
  abort                cancel and roll back        history          past upgrades
  schedule create|list|delete|trigger              maintenance windows
  worker               run the worker that executes the upgrades (needs AEGIS_ROOT)

Connection: as the temporal CLI, from profile TEMPORAL_PROFILE (default) of TEMPORAL_CONFIG_FILE
(~/.config/temporalio/temporal.toml), then TEMPORAL_ADDRESS (127.0.0.1:7233), TEMPORAL_NAMESPACE (default),
TEMPORAL_API_KEY, TEMPORAL_TLS_*; and AEGIS_TASK_QUEUE (aegis-upgrades).
Run \`aegis-upgrade <command> --help\` for a command's options.`,
  start: `aegis-upgrade start <version> [--env NAME] [--pods a,b] [--strategy rolling|full] [--approve-before core]
  [--approval-timeout '30 minutes'] [--restore-database auto|always|never] [--follow]

Starts upgradePlatform as aegis-upgrade-<env> (env: default). Refused while one runs for that environment.
Example: aegis-upgrade start 1.3.0 --approve-before core --follow`,
  plan: `aegis-upgrade plan <version> [same options as start]

Runs the read-only pre-flight on the worker and prints what would change. Changes nothing.
Example: aegis-upgrade plan 1.3.0 --env staging`,
  status: `aegis-upgrade status [--env NAME] [--json] [--follow]

Phase, each step with status and duration, what comes next. --follow stays live until the upgrade ends and exits
0 when it completed, 1 when it was rolled back.
Example: aegis-upgrade status --follow`,
  approve: `aegis-upgrade approve [--env NAME]

Releases the approval gate the upgrade waits at. Example: aegis-upgrade approve --env default`,
  abort: `aegis-upgrade abort [--env NAME] [--reason TEXT]

Cancels the upgrade: it rolls back. Example: aegis-upgrade abort --reason "error rate up"`,
  history: `aegis-upgrade history [--env NAME] [--limit N] [--json]

Past upgrades: from → to, outcome, duration, started by schedule or by hand. Example: aegis-upgrade history --limit 5`,
  schedule: `aegis-upgrade schedule create --env NAME --version V (--cron EXPR | --calendar SPEC) [--timezone TZ]
aegis-upgrade schedule list
aegis-upgrade schedule delete --env NAME
aegis-upgrade schedule trigger --env NAME

A maintenance window as a Temporal Schedule: overlapping runs are skipped; a rolled-back upgrade pauses it.
Example: aegis-upgrade schedule create --env default --version 1.3.0 --cron '0 3 * * SUN' --timezone Europe/Paris
         aegis-upgrade schedule create --env default --version 1.3.0 --calendar dayOfWeek=SUNDAY,hour=3`,
  worker: `aegis-upgrade worker

Runs the worker on the host of the deployment: it takes upgrades from the task queue until SIGINT or SIGTERM, then
finishes what it holds and exits. AEGIS_ROOT (the deploy checkout, required) and the other AEGIS_* variables: README.
Example: AEGIS_ROOT=/srv/aegis-deploy TEMPORAL_ADDRESS=temporal.example:7233 aegis-upgrade worker`,
};

const OPTIONS = {
  env: { type: 'string' },
  pods: { type: 'string' },
  strategy: { type: 'string' },
  'approve-before': { type: 'string' },
  'approval-timeout': { type: 'string' },
  'restore-database': { type: 'string' },
  follow: { type: 'boolean' },
  json: { type: 'boolean' },
  reason: { type: 'string' },
  limit: { type: 'string', default: '20' },
  version: { type: 'string' },
  cron: { type: 'string' },
  calendar: { type: 'string' },
  timezone: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({ options: OPTIONS, allowPositionals: true, strict: true });
  const [command = '', ...rest] = positionals;
  if (values.help || command === '' || !(command in HELP)) {
    console.log(HELP[values.help ? command : ''] ?? HELP['']);
    return values.help || command === '' ? 0 : 2;
  }
  if (command === 'worker') {
    // Imported here only: the other commands do not load the activities and their dependencies.
    const { runWorker } = await import('../worker.js');
    await runWorker();
    return 0;
  }
  const temporal = loadTemporalConfig();
  const connection = await Connection.connect(temporal.connection).catch((error: Error) => {
    throw new UsageError(`Cannot reach the Temporal server at ${describeConnection(temporal)}: ${error.message}`);
  });
  try {
    const client = new Client({ connection, namespace: temporal.namespace });
    const env = values.env ?? 'default';
    const request = () =>
      upgradeRequest(command === 'schedule' ? values.version : rest[0], {
        env,
        pods: values.pods,
        strategy: values.strategy,
        approveBefore: values['approve-before'],
        approvalTimeout: values['approval-timeout'],
        restoreDatabase: values['restore-database'],
      });
    switch (command) {
      case 'start': {
        const handle = await startUpgrade(client, temporal.taskQueue, request(), env);
        console.log(`Started ${handle.workflowId} (run ${handle.firstExecutionRunId})`);
        return values.follow ? exitCode(await followUpgrade(handle)) : 0;
      }
      case 'plan': {
        const report = await planUpgrade(client, temporal.taskQueue, request(), env);
        console.log(values.json ? JSON.stringify(report, null, 2) : renderPlan(report));
        return exitCode(report);
      }
      case 'status':
        return await showStatus(client, env, { json: values.json, follow: values.follow });
      case 'approve':
        await approveUpgrade(client, env);
        return 0;
      case 'abort':
        await abortUpgrade(client, env, values.reason);
        return 0;
      case 'history': {
        const limit = Number(values.limit);
        if (!Number.isInteger(limit) || limit <= 0)
          throw new UsageError(`Expected --limit to be a positive whole number, got \`${values.limit}\``);
        const entries = await upgradeHistory(
          client,
          values.env === 'default' && !process.argv.includes('--env') ? undefined : env,
          limit,
        );
        console.log(values.json ? JSON.stringify(entries, null, 2) : renderHistory(entries));
        return 0;
      }
      case 'schedule':
        return await schedule(client, temporal.taskQueue, rest[0], env, request);
    }
    return 2;
  } finally {
    await connection.close();
  }

  async function schedule(
    client: Client,
    taskQueue: string,
    action: string | undefined,
    env: string,
    request: () => ReturnType<typeof upgradeRequest>,
  ): Promise<number> {
    switch (action) {
      case 'create':
        console.log(
          `Created schedule ${await createSchedule(client, taskQueue, request(), { env, cron: values.cron, calendar: values.calendar, timezone: values.timezone })}`,
        );
        return 0;
      case 'list':
        console.log((await listSchedules(client)).join('\n') || 'No schedule.');
        return 0;
      case 'delete':
        await deleteSchedule(client, env);
        console.log(`Deleted the schedule of ${env}`);
        return 0;
      case 'trigger':
        await triggerSchedule(client, env);
        console.log(`Triggered the schedule of ${env}`);
        return 0;
      default:
        throw new UsageError(
          `Expected schedule create|list|delete|trigger, got \`${action ?? ''}\`\n\n${HELP.schedule}`,
        );
    }
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(
      err instanceof UsageError || (err instanceof Error && err.name === 'ConfigError')
        ? `aegis-upgrade: ${err.message}`
        : err,
    );
    process.exit(err instanceof UsageError ? 2 : 1);
  },
);

import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import fs from 'node:fs';
import path from 'node:path';
import { msToNumber, type StringValue } from '@temporalio/common/lib/time';
import { InvalidEnvironmentName, checkEnvironmentName } from '../core/environments';
import * as commands from './commands';
import { ExitCode } from './errors';
import { identity } from './identity';
import { COLOR_MODES, OUTPUT_FORMATS, type GlobalOptions } from './output';
import { addRequestFlags } from './request-options';

const DESCRIPTION = 'aegis-upgrade: upgrade the AEGIS platform through its Temporal worker';

const GENERAL_HELP = `
Connection: as the temporal CLI, from profile TEMPORAL_PROFILE (default) of TEMPORAL_CONFIG_FILE
(~/.config/temporalio/temporal.toml), then TEMPORAL_ADDRESS (127.0.0.1:7233), TEMPORAL_NAMESPACE (default),
TEMPORAL_API_KEY, TEMPORAL_TLS_*; and AEGIS_TASK_QUEUE (aegis-upgrades): the queue of environment default;
environment X's worker polls <AEGIS_TASK_QUEUE>-X, and --env X sends there.

Exit codes: ${ExitCode.Done} done; ${ExitCode.Failed} the upgrade failed or was rolled back; ${ExitCode.Usage} bad usage (an unknown command or option,
a bad value or setting, a request refused); ${ExitCode.Unreachable} cannot reach the Temporal server.
Run \`aegis-upgrade <command> --help\` for a command's options.`;

/** The version of the installed package: its package.json is above this file, in the sources and in the build. */
function packageVersion(dir = __dirname): string {
  const manifest = path.join(dir, 'package.json');
  if (fs.existsSync(manifest)) {
    const { name, version } = JSON.parse(fs.readFileSync(manifest, 'utf8')) as { name?: string; version?: string };
    if (name === 'aegis-upgrade' && version) return version;
  }
  const parent = path.dirname(dir);
  return parent === dir ? 'unknown' : packageVersion(parent);
}

function positiveInteger(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number <= 0) throw new InvalidArgumentError('Expected a positive whole number');
  return number;
}

/** `--env`'s value, checked as every environment name is: it goes into task queues, IDs and visibility queries. */
function environmentName(value: string): string {
  try {
    return checkEnvironmentName(value, '--env');
  } catch (error) {
    if (error instanceof InvalidEnvironmentName) throw new InvalidArgumentError(error.message);
    throw error;
  }
}

const envOption = () =>
  new Option(
    '--env <name>',
    "the environment: one deployment and its worker; its upgrades are named aegis-upgrade-<name> and go to its worker's task queue",
  )
    .argParser(environmentName)
    .default('default');

/** `--timeout`'s value in milliseconds, read as Temporal reads a duration. */
function duration(value: string): number {
  let ms: number;
  try {
    ms = msToNumber(value as StringValue);
  } catch {
    ms = Number.NaN;
  }
  if (!(ms > 0)) throw new InvalidArgumentError("Expected a duration like '5 minutes' or 90s");
  return ms;
}

/** The CLI's own options, declared once: what sends work to a worker, and what waits for an answer. */
const allowNoWorkerOption = () =>
  new Option(
    '--allow-no-worker',
    'send it even when no worker polls the task queue: it waits there for one (default: refused, exit 2)',
  );
const timeoutOption = (what: string, byDefault?: string) =>
  new Option(
    '--timeout <duration>',
    `how long to wait for ${what}, e.g. '5 minutes'; then exit 1${byDefault ? '' : ' (default: until it ends)'}`,
  )
    .argParser(duration)
    .default(byDefault === undefined ? undefined : duration(byDefault), byDefault);

/** Who approves or aborts, and why: the upgrade records both and shows them in `status`, `history` and its webhooks. */
const byOption = () =>
  new Option('--by <who>', 'who does it, as recorded').default(identity(), 'user@host of this shell');
const reasonOption = () => new Option('--reason <text>', 'why: recorded with the upgrade and shown in its report');

/** How long a dry run may take, its workflow's execution timeout too: it does not linger on the server. */
const PLAN_TIMEOUT = '10 minutes';
/** How long an unlock may take on the worker. */
const UNLOCK_TIMEOUT = '2 minutes';

/** What `upgradeRequest` reads: the options of start, plan and schedule create. */
const withRequestOptions = (command: Command) => addRequestFlags(command.addOption(envOption()));

const example = (command: Command, text: string) => command.addHelpText('after', `\n${text}`);

/**
 * The options of every command, as the `temporal` CLI has them, declared here only: given before the command
 * (`aegis-upgrade -n staging status`) or after it (`aegis-upgrade status -n staging`), the later one wins. The
 * connection's flags come before the variables and the profile's values (`loadTemporalConfig`).
 */
const globalOptions = () => [
  new Option('--address <host:port>', 'the Temporal server (default: TEMPORAL_ADDRESS, the profile, 127.0.0.1:7233)'),
  new Option('-n, --namespace <name>', 'the Temporal namespace (default: TEMPORAL_NAMESPACE, the profile, default)'),
  new Option('--profile <name>', 'the profile of the Temporal config file (default: TEMPORAL_PROFILE, default)'),
  new Option('-o, --output <format>', 'text (default) or json: one JSON document on stdout').choices(OUTPUT_FORMATS),
  new Option('--color <when>', 'auto (default): on a terminal when NO_COLOR is unset; always; never').choices(
    COLOR_MODES,
  ),
];

/** Every command takes the global options; one given before the command is its value unless given after it too. */
function addGlobalOptions(program: Command): void {
  for (const option of globalOptions()) program.addOption(option);
  const leaves = (command: Command): Command[] =>
    command.commands.length === 0 ? [command] : command.commands.flatMap(leaves);
  for (const leaf of program.commands.flatMap(leaves)) for (const option of globalOptions()) leaf.addOption(option);
  program.hook('preAction', (_program, action) => {
    for (const [name, value] of Object.entries(program.opts())) {
      if (action.getOptionValue(name) === undefined) action.setOptionValueWithSource(name, value, 'cli');
    }
  });
}

/** One line for a mistake in the command line, and where to look: `aegis-upgrade start --help`. */
function reportUsageErrors(command: Command, name: string): void {
  command.exitOverride().configureOutput({
    outputError: (message, write) => {
      const text = message
        .replace(/^error: /, '')
        .replace(/\s*\n\s*\((.*)\)/g, ' ($1)')
        .trim()
        .replace(/\.$/, '');
      write(`aegis-upgrade: ${text}. See \`${name} --help\`\n`);
    },
  });
  for (const sub of command.commands) reportUsageErrors(sub, `${name} ${sub.name()}`);
}

/** The command line: each command with its own options, its help and an example; `done` gets its exit code. */
export function aegisUpgradeProgram(done: (exitCode: number) => void): Command {
  const program = new Command('aegis-upgrade')
    .version(packageVersion(), '-V, --version', 'print the version')
    // `schedule create --version 1.3.0` is the schedule's version, not this program's.
    .enablePositionalOptions()
    .addHelpText('before', `${DESCRIPTION}\n`)
    .addHelpText('after', GENERAL_HELP);

  const start = withRequestOptions(program.command('start'))
    .summary('start an upgrade')
    .description(
      'Starts upgradePlatform as aegis-upgrade-<env> (env: default). Refused while one runs for that environment.',
    )
    .argument('<version>', 'the AEGIS image tag to upgrade to, e.g. 1.3.0')
    .option('--follow', 'stay live until the upgrade ends; exit 0 when it completed, 1 when it was rolled back')
    .addOption(timeoutOption('the end with --follow'))
    .addOption(allowNoWorkerOption())
    .action(async (version: string, options: commands.StartOptions) => done(await commands.start(version, options)));
  example(start, 'Example: aegis-upgrade start 1.3.0 --approve-before core --follow');

  const plan = withRequestOptions(program.command('plan'))
    .summary('what an upgrade would change (dry run)')
    .description('Runs the read-only pre-flight on the worker and prints what would change. Changes nothing.')
    .argument('<version>', 'the AEGIS image tag to upgrade to, e.g. 1.3.0')
    .option('--json', 'the same as -o json: the report')
    .addOption(timeoutOption("the worker's answer", PLAN_TIMEOUT))
    .addOption(allowNoWorkerOption())
    .action(async (version: string, options: commands.PlanOptions) => done(await commands.plan(version, options)));
  example(plan, 'Example: aegis-upgrade plan 1.3.0 --env staging');

  const rollback = program
    .command('rollback')
    .summary('put a completed upgrade back')
    .description(
      'Downgrades the environment to the version its last completed upgrade left (--to: the last that left that ' +
        'version), restoring the backup that upgrade took: every write to aegis since that backup is discarded, ' +
        '--plan says from when. Refused, naming the versions it can go back to, when no recorded backup serves.',
    )
    .addOption(envOption())
    .option('--to <version>', 'the version to go back to (default: the one the last completed upgrade left)')
    .option('--plan', 'only the dry run: what it would restore, discard and redeploy; changes nothing')
    .option('--follow', 'stay live until it ends; exit 0 when it completed, 1 when it was rolled back')
    .option('--json', 'the same as -o json')
    .addOption(timeoutOption(`the worker's answer with --plan (default: ${PLAN_TIMEOUT}), the end with --follow`))
    .addOption(allowNoWorkerOption())
    .action(async (options: Omit<commands.RollbackOptions, 'planTimeout'>) =>
      done(await commands.rollback({ ...options, planTimeout: duration(PLAN_TIMEOUT) })),
    );
  example(rollback, 'Example: aegis-upgrade rollback --env staging --plan');

  const status = program
    .command('status')
    .summary('the current or last upgrade')
    .description(
      'Phase, each step with status and duration, what comes next. --follow stays live until the upgrade ends and ' +
        'exits 0 when it completed, 1 when it was rolled back.',
    )
    .addOption(envOption())
    .option('--json', 'the same as -o json: the progress or the report')
    .option(
      '--follow',
      'stay live until the upgrade ends: redrawn in a terminal, one line per step otherwise; with -o json, the report at the end',
    )
    .addOption(timeoutOption('the end with --follow'))
    .action(async (options: commands.StatusOptions) => done(await commands.status(options)));
  example(status, 'Example: aegis-upgrade status --follow');

  const approve = program
    .command('approve')
    .summary('release a waiting approval gate')
    .description(
      'Releases the approval gate the upgrade waits at, naming it: the upgrade refuses it if that gate was released since.',
    )
    .addOption(envOption())
    .option('--pod <pod>', 'approve only if the upgrade waits at the gate before this pod')
    .addOption(byOption())
    .addOption(reasonOption())
    .action(async (options: commands.ApproveOptions) => done(await commands.approve(options)));
  example(approve, 'Example: aegis-upgrade approve --env default');

  const abort = program
    .command('abort')
    .summary('cancel and roll back')
    .description('Cancels the upgrade: it rolls back.')
    .addOption(envOption())
    .addOption(byOption())
    .addOption(reasonOption())
    .action(async (options: commands.AbortOptions) => done(await commands.abort(options)));
  example(abort, 'Example: aegis-upgrade abort --reason "error rate up"');

  const history = program
    .command('history')
    .summary('past upgrades')
    .description('Past upgrades: from → to, outcome, duration, started by schedule or by hand.')
    .addOption(envOption())
    .addOption(new Option('--limit <n>', 'how many, newest first').argParser(positiveInteger).default(20))
    .option('--json', 'the same as -o json')
    .action(async (options: commands.HistoryOptions) => done(await commands.history(options)));
  example(history, 'Example: aegis-upgrade history --limit 5');

  const unlock = program
    .command('unlock')
    .summary('clear the lock an ended upgrade left behind (break-glass)')
    .description(
      "Clears the deployment's upgrade lock that an upgrade kept when it ended RollbackFailed or was terminated, on " +
        'the worker of the deployment, and records who cleared it, when and why in .aegis-upgrade.lock-history of the ' +
        'deploy checkout. Refused while the upgrade holding the lock still runs: abort it instead, or wait.',
    )
    .addOption(envOption())
    .option('--reason <text>', 'why: recorded in the lock history with your user and host')
    .addOption(timeoutOption("the worker's verdict", UNLOCK_TIMEOUT))
    .action(async (options: commands.UnlockOptions) => done(await commands.unlock(options)));
  example(
    unlock,
    'Example: aegis-upgrade unlock --env default --reason "rollback finished by hand, make validate passes"',
  );

  const environments = program
    .command('environments')
    .summary('the environments: version, last upgrade, worker')
    .description(
      'Every environment with an upgrade in the namespace: the version of its last completed upgrade, how its last ' +
        'upgrade ended, and whether a worker polls its task queue now.',
    )
    .option('--json', 'the same as -o json')
    .action(async (options: GlobalOptions) => done(await commands.environments(options)));
  example(environments, 'Example: aegis-upgrade environments');

  addScheduleCommands(program, done);
  addFleetCommands(program, done);
  addComponentCommands(program, done);

  const setup = program
    .command('setup')
    .summary("register the upgrades' search attributes on the namespace (once)")
    .description(
      'Registers the search attributes upgrades are found by (AegisEnvironment, AegisFromVersion, AegisToVersion, ' +
        'AegisPhase, all Keyword) on the namespace. Run it once per namespace, before the worker; running it again ' +
        'changes nothing. Refused if one exists with another type.',
    )
    .action(async (options: GlobalOptions) => done(await commands.setup(options)));
  example(setup, 'Example: TEMPORAL_ADDRESS=temporal.example:7233 aegis-upgrade setup');

  const worker = program
    .command('worker')
    .summary('run the worker that executes the upgrades (needs AEGIS_ROOT)')
    .description(
      'Runs the worker on the host of the deployment: it takes the upgrades of its environment (AEGIS_ENVIRONMENT, ' +
        'default: default) from its task queue until SIGINT or SIGTERM, then finishes what it holds and exits. ' +
        'AEGIS_ROOT (the deploy checkout, required) and the other AEGIS_* variables: docs/configuration.md.',
    )
    .action(async (options: GlobalOptions) => done(await commands.worker(options)));
  example(
    worker,
    'Example: AEGIS_ENVIRONMENT=staging AEGIS_ROOT=/srv/aegis-deploy TEMPORAL_ADDRESS=temporal.example:7233 aegis-upgrade worker',
  );

  const check = program
    .command('doctor')
    .summary('check this host for an upgrade: read only, no worker needed')
    .description(
      "Checks, as the platform's user on its host, everything an upgrade will need, changing nothing: podman and who " +
        "owns the pods, the profile's pods running, every pod definition, the make targets, .env, the registry login, " +
        "disk for a backup, PostgreSQL and PgBouncer, the host aegis binary and FUSE daemon, the worker's Temporal. " +
        'Prints ✓, ! or ✗ per check with the fix for each that did not pass; exits 1 when one blocks an upgrade.',
    )
    .option('--root <dir>', 'the deploy checkout (default: AEGIS_ROOT)')
    .option('--aegis-profile <name>', 'its profile under profiles/ (default: AEGIS_PROFILE, development)')
    .option('--files-only', "only the checks of the checkout's files: no podman, PostgreSQL or Temporal")
    .action(async (options: commands.DoctorOptions) => done(await commands.doctor(options)));
  example(check, 'Example: aegis-upgrade doctor --root ~/100monkeys/aegis-deploy --aegis-profile full');

  addGlobalOptions(program);
  reportUsageErrors(program, 'aegis-upgrade');
  return program;
}

function addScheduleCommands(program: Command, done: (exitCode: number) => void): void {
  const schedule = program
    .command('schedule')
    .summary('maintenance windows: create|list|delete|trigger')
    .description(
      'A maintenance window as a Temporal Schedule: overlapping runs are skipped; a rolled-back upgrade pauses it.',
    );
  example(
    schedule,
    "Example: aegis-upgrade schedule create --env default --version 1.3.0 --cron '0 3 * * SUN' --timezone Europe/Paris\n" +
      '         aegis-upgrade schedule create --env default --version 1.3.0 --calendar dayOfWeek=SUNDAY,hour=3',
  );

  const create = withRequestOptions(schedule.command('create'))
    .description('Creates the maintenance window of an environment: exactly one of --cron or --calendar.')
    .requiredOption('--version <version>', 'the AEGIS image tag to upgrade to, e.g. 1.3.0')
    .addOption(new Option('--cron <expression>', "when the window opens, e.g. '0 3 * * SUN'").conflicts('calendar'))
    .option('--calendar <spec>', 'when the window opens, e.g. dayOfWeek=SUNDAY,hour=3')
    .option('--timezone <zone>', 'the time zone of --cron or --calendar, e.g. Europe/Paris (default: UTC)')
    .action(async (options: commands.ScheduleCreateOptions) => done(await commands.scheduleCreate(options)));
  example(create, "Example: aegis-upgrade schedule create --env default --version 1.3.0 --cron '0 3 * * SUN'");

  schedule
    .command('list')
    .description('The maintenance windows: paused or active, and when each runs next.')
    .addHelpText('after', '\nExample: aegis-upgrade schedule list')
    .action(async (options: GlobalOptions) => done(await commands.scheduleList(options)));
  schedule
    .command('delete')
    .description('Deletes the maintenance window of an environment.')
    .addHelpText('after', '\nExample: aegis-upgrade schedule delete --env staging')
    .addOption(envOption())
    .action(async (options: commands.EnvOption) => done(await commands.scheduleDelete(options)));
  schedule
    .command('trigger')
    .description('Runs the window now; skipped while an upgrade of the environment runs.')
    .addHelpText('after', '\nExample: aegis-upgrade schedule trigger --env staging')
    .addOption(envOption())
    .action(async (options: commands.EnvOption) => done(await commands.scheduleTrigger(options)));
}

const fleetNameOption = () =>
  new Option('--name <name>', 'the fleet: its workflow is aegis-fleet-<name>')
    .argParser(environmentName)
    .default('default');

/** What `fleetRequest` reads: the fleet's waves and the options of each environment's upgrade. */
function withFleetOptions(command: Command): Command {
  command
    .addOption(fleetNameOption())
    .requiredOption('--envs <a,b,c>', 'the environments, in the order their waves take them')
    .option('--canary <a,b>', "the first wave, alone (default: the first environment; '' for none)")
    .addOption(new Option('--wave-size <n>', 'environments per wave after the canary').argParser(positiveInteger))
    .addOption(new Option('--wave-share <percent>', "each wave's share of the fleet, e.g. 25%").conflicts('waveSize'))
    .addOption(
      new Option('--max-concurrent <n>', 'upgrades of a wave at once (default: all)').argParser(positiveInteger),
    )
    .option('--bake <duration>', "how long each wave must stay healthy before the next, e.g. '15 minutes'")
    .option('--approve-between-waves', 'wait for `aegis-upgrade fleet approve` before each wave after the first')
    .addOption(
      new Option('--failure-budget <n>', 'failures a wave after the canary tolerates (default: 0)').argParser(
        wholeNumber,
      ),
    )
    .addOption(
      new Option('--canary-failure-budget <n>', 'failures the canary wave tolerates (default: 0)').argParser(
        wholeNumber,
      ),
    )
    .addOption(
      new Option(
        '--on-budget-exceeded <policy>',
        "stop (default), or roll-back-wave: the wave's upgraded ones too",
      ).choices(['stop', 'roll-back-wave']),
    )
    .option(
      '--upgrade-start-deadline <duration>',
      "how long each upgrade may wait for its environment's worker, e.g. '10 minutes' (default)",
    )
    .option(
      '--restore-database-on-wave-rollback',
      "roll-back-wave restores each environment's pre-upgrade dump, discarding the writes since (default: keep the data)",
    );
  return addRequestFlags(command, 'fleet');
}

function addComponentCommands(program: Command, done: (exitCode: number) => void): void {
  const component = program
    .command('component')
    .summary("upgrade the platform's PostgreSQL or Temporal: plan|start")
    .description(
      "Upgrades the platform's own PostgreSQL (minor, or major on a fresh cluster restored from a dump) or Temporal " +
        '(one minor at a time) as upgradeComponent, under aegis-upgrade-<env>: `status`, `history` and `abort` ' +
        'show and stop it like an AEGIS upgrade, and it rolls itself back.',
    );
  example(component, 'Example: aegis-upgrade component start postgres 16 --env staging --follow');
  const withComponentOptions = (command: Command) =>
    command
      .addOption(envOption())
      .argument('<component>', 'postgres or temporal')
      .argument('<version>', 'PostgreSQL 15.8, 16 or 16.2; Temporal 1.23 or 1.23.1')
      .option('--allow-unsupported', 'Temporal outside the range the AEGIS runtime supports (the report says so)');
  const plan = withComponentOptions(component.command('plan'))
    .description('Runs the read-only pre-flight on the worker: minor or major, the checks, or why it is refused.')
    .option('--json', 'the same as -o json: the report')
    .addOption(timeoutOption("the worker's answer", PLAN_TIMEOUT))
    .addOption(allowNoWorkerOption())
    .action(async (name: string, version: string, options: commands.ComponentPlanOptions) =>
      done(await commands.componentPlan(name, version, options)),
    );
  example(plan, 'Example: aegis-upgrade component plan postgres 16 --env staging');
  const start = withComponentOptions(component.command('start'))
    .description('Starts upgradeComponent as aegis-upgrade-<env>. Refused while an upgrade runs for that environment.')
    .option('--follow', 'stay live until the upgrade ends; exit 0 when it completed, 1 when it was rolled back')
    .addOption(timeoutOption('the end with --follow'))
    .addOption(allowNoWorkerOption())
    .action(async (name: string, version: string, options: commands.ComponentStartOptions) =>
      done(await commands.componentStart(name, version, options)),
    );
  example(start, 'Example: aegis-upgrade component start temporal 1.23 --follow');
}

function wholeNumber(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0) throw new InvalidArgumentError('Expected a whole number');
  return number;
}

function addFleetCommands(program: Command, done: (exitCode: number) => void): void {
  const fleet = program
    .command('fleet')
    .summary('upgrade many environments in waves: plan|start|status|approve|abort')
    .description(
      "Upgrades a list of environments to one version in waves (a canary first), each environment's upgrade the " +
        'usual one on its own worker (`status --env X` shows it); a wave over its failure budget stops the fleet.',
    );
  example(
    fleet,
    'Example: aegis-upgrade fleet plan 1.3.0 --envs staging,eu-1,eu-2,us-1 --wave-size 2 --bake "15 minutes"',
  );

  const plan = withFleetOptions(fleet.command('plan'))
    .description('Prints the waves the fleet would run, from the request alone. Changes nothing, asks no server.')
    .argument('<version>', 'the AEGIS image tag to upgrade to, e.g. 1.3.0')
    .option('--json', 'the same as -o json: the planned request')
    .action(async (version: string, options: commands.FleetPlanOptions) =>
      done(await commands.fleetPlan(version, options)),
    );
  example(plan, 'Example: aegis-upgrade fleet plan 1.3.0 --envs staging,eu-1,eu-2 --failure-budget 0');

  const start = withFleetOptions(fleet.command('start'))
    .description('Starts upgradeFleet as aegis-fleet-<name> on the fleet queue (<AEGIS_TASK_QUEUE>.fleet).')
    .argument('<version>', 'the AEGIS image tag to upgrade to, e.g. 1.3.0')
    .option('--follow', 'stay live until the fleet ends; exit 0 when it completed, 1 when it stopped or rolled back')
    .addOption(timeoutOption('the end with --follow'))
    .addOption(allowNoWorkerOption())
    .action(async (version: string, options: commands.FleetStartOptions) =>
      done(await commands.fleetStart(version, options)),
    );
  example(
    start,
    'Example: aegis-upgrade fleet start 1.3.0 --envs staging,eu-1,eu-2 --on-budget-exceeded roll-back-wave',
  );

  fleet
    .command('status')
    .description("Each environment's wave and phase, live; exits 1 when the fleet stopped or rolled back.")
    .addHelpText('after', '\nExample: aegis-upgrade fleet status --name nightly')
    .addOption(fleetNameOption())
    .option('--json', 'the same as -o json: the progress')
    .option(
      '--follow',
      'stay live until the fleet ends: redrawn in a terminal, each change once otherwise; with -o json, the end',
    )
    .addOption(timeoutOption('the end with --follow'))
    .action(async (options: commands.FleetStatusOptions) => done(await commands.fleetStatus(options)));
  fleet
    .command('approve')
    .description('Releases the wait before the next wave (with --approve-between-waves), recording who and why.')
    .addHelpText('after', '\nExample: aegis-upgrade fleet approve --name nightly --reason "canary healthy for an hour"')
    .addOption(fleetNameOption())
    .addOption(byOption())
    .addOption(reasonOption())
    .action(async (options: commands.FleetApproveOptions) => done(await commands.fleetApprove(options)));
  fleet
    .command('abort')
    .description('Starts no new upgrade; those running finish. The fleet ends FleetStopped.')
    .addHelpText('after', '\nExample: aegis-upgrade fleet abort --name nightly')
    .addOption(fleetNameOption())
    .action(async (options: commands.FleetNameOption) => done(await commands.fleetAbort(options)));
}

/** Parses `argv` (without node and the script) and runs its command; returns the exit code. */
export async function runCli(argv: readonly string[]): Promise<number> {
  let exitCode: number = ExitCode.Done;
  const program = aegisUpgradeProgram((code) => (exitCode = code));
  if (argv.length === 0) {
    program.outputHelp();
    return ExitCode.Done;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    // Commander stops this way after --help and --version too: it printed them, and they exit 0.
    if (error instanceof CommanderError) return error.exitCode === 0 ? ExitCode.Done : ExitCode.Usage;
    throw error;
  }
  return exitCode;
}

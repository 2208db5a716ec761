import { Option, type Command } from 'commander';
import * as commands from '../../src/cli/commands';
import { UsageError } from '../../src/cli/errors';
import { fleetRequest } from '../../src/cli/fleet';
import { aegisUpgradeProgram, runCli } from '../../src/cli/program';
import {
  FLEET_REQUEST_HEADING,
  REQUEST_FLAGS,
  requestFieldsOf,
  type RequestFlagField,
} from '../../src/cli/request-options';
import { upgradeRequest } from '../../src/cli/upgrades';
import { parseFleetRequest } from '../../src/core/fleet-request';
import { DEFAULT_APPROVAL_TIMEOUT } from '../../src/core/upgrade';
import { UPGRADE_REQUEST_FIELDS, parseUpgradeRequest } from '../../src/core/upgrade-request';
import { thrown } from '../helpers/thrown';

// The parse layer: each command's options as its operation receives them, no server.
jest.mock('../../src/cli/commands');
const mocked = jest.mocked(commands);

beforeEach(() => {
  jest.resetAllMocks();
  for (const operation of Object.values(mocked)) {
    if (typeof operation === 'function') (operation as jest.Mock).mockResolvedValue(0);
  }
});

/** Every field a flag sets: all of the request's but the version (an argument) and dryRun (`plan`). */
const FLAG_FIELDS = UPGRADE_REQUEST_FIELDS.filter((field) => field !== 'targetVersion' && field !== 'dryRun');
const FLEET_FLAG_FIELDS = FLAG_FIELDS.filter((field) => field !== 'restoreFrom');

function commandAt(path: string[]): Command {
  let command = aegisUpgradeProgram(() => undefined);
  for (const name of path) {
    const sub = command.commands.find((candidate) => candidate.name() === name);
    if (!sub) throw new Error(`no command ${path.join(' ')}`);
    command = sub;
  }
  return command;
}

/** A command's help on one line: the wrapping depends on the terminal's width. */
const helpOf = (path: string[]) => commandAt(path).helpInformation().replace(/\s+/g, ' ');

const attributesOf = (command: Command) => command.options.map((option) => option.attributeName());

const stderrOf = async (run: () => Promise<number>) => {
  const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    const exitCode = await run();
    return { exitCode, text: stderr.mock.calls.map(([text]) => String(text)).join('') };
  } finally {
    stderr.mockRestore();
  }
};

describe('the request flags', () => {
  it.each(FLAG_FIELDS)('%s has its flag, named as the field', (field) => {
    const declared = REQUEST_FLAGS[field as RequestFlagField];
    expect(declared).toBeDefined();
    expect(new Option(declared.flag).attributeName()).toBe(field);
  });

  it('are the request fields, no other', () => {
    expect(Object.keys(REQUEST_FLAGS).sort()).toEqual([...FLAG_FIELDS].sort());
  });

  it.each([[['start']], [['plan']], [['schedule', 'create']]])('%p takes every one of them', (path) => {
    expect(attributesOf(commandAt(path))).toEqual(expect.arrayContaining(FLAG_FIELDS));
  });

  it.each([[['fleet', 'start']], [['fleet', 'plan']]])(
    "%p takes every one but restoreFrom, under the heading of each environment's upgrade",
    (path) => {
      const command = commandAt(path);
      expect(attributesOf(command)).toEqual(expect.arrayContaining(FLEET_FLAG_FIELDS));
      expect(attributesOf(command)).not.toContain('restoreFrom');
      const [fleetOwn, perEnvironment] = helpOf(path).split(FLEET_REQUEST_HEADING);
      expect(perEnvironment).toBeDefined();
      for (const field of FLEET_FLAG_FIELDS) {
        const flag = REQUEST_FLAGS[field as RequestFlagField].flag;
        expect(perEnvironment).toContain(flag);
        expect(fleetOwn).not.toContain(flag);
      }
      expect(helpOf(path)).not.toContain('--restore-from');
    },
  );

  it('refuses --restore-from on a fleet: each deployment has its own backup', async () => {
    const { exitCode, text } = await stderrOf(() =>
      runCli(['fleet', 'start', '1.3.0', '--envs', 'a,b', '--restore-from', '20261126T031500Z-1.3.0-to-1.4.0']),
    );
    expect(exitCode).toBe(2);
    expect(text).toContain("unknown option '--restore-from'");
    expect(mocked.fleetStart).not.toHaveBeenCalled();
  });

  it.each([[['start']], [['plan']], [['schedule', 'create']], [['fleet', 'start']]])(
    '%p names the defaults the parser applies',
    (path) => {
      const help = helpOf(path);
      expect(help).toContain(`(default: ${DEFAULT_APPROVAL_TIMEOUT})`);
      expect(help).not.toContain('no limit');
      expect(help).toContain('rolling (default)');
      expect(help).toContain('auto (default)');
      expect(help).toContain("(default: the rolling order, limited to the profile's pods)");
      expect(help).toContain('(default: only pods it changes)');
      expect(help).toContain('(default: one by one)');
    },
  );

  it('each names its default, or that it is required where it is', () => {
    for (const { help } of Object.values(REQUEST_FLAGS)) expect(help).toMatch(/\(default|required/);
  });
});

describe('the new flags reach the request', () => {
  const backup = '20261126T031500Z-1.3.0-to-1.4.0';

  it('start --restore-from: the downgrade names its backup', async () => {
    expect(await runCli(['start', '1.3.0', '--restore-from', backup])).toBe(0);
    const [version, options] = mocked.start.mock.calls[0] ?? [];
    expect(upgradeRequest(version, options!)).toEqual(
      parseUpgradeRequest({ targetVersion: '1.3.0', restoreFrom: backup }),
    );
  });

  it.each([[['plan', '1.3.0']], [['schedule', 'create', '--version', '1.3.0', '--cron', '0 3 * * SUN']]])(
    '%p --restore-from too',
    async (argv) => {
      expect(await runCli([...argv, '--restore-from', backup])).toBe(0);
      const called = mocked.plan.mock.calls[0]?.[1] ?? mocked.scheduleCreate.mock.calls[0]?.[0];
      expect(called).toMatchObject({ restoreFrom: backup });
      expect(upgradeRequest('1.3.0', called!)).toMatchObject({ restoreFrom: backup });
    },
  );

  it('fleet start --redeploy-all and --concurrent-after-core: each environment upgrade gets them', async () => {
    const argv = ['fleet', 'start', '1.3.0', '--envs', 'a,b', '--redeploy-all', '--concurrent-after-core'];
    expect(await runCli(argv)).toBe(0);
    const [version, options] = mocked.fleetStart.mock.calls[0] ?? [];
    const request = fleetRequest(version!, options!);
    expect(request).toEqual({
      targetVersion: '1.3.0',
      environments: ['a', 'b'],
      redeployAll: true,
      concurrentAfterCore: true,
    });
    expect(parseFleetRequest(request).upgrade).toMatchObject({ redeployAll: true, concurrentAfterCore: true });
  });

  it('fleet start: every per-environment flag, as the fleet request carries it', async () => {
    const argv = ['fleet', 'start', '1.3.0', '--envs', 'a', '--pods', 'database,core', '--strategy', 'rolling'];
    const more = ['--approve-before', 'core', '--approval-timeout', '2h', '--restore-database', 'never'];
    expect(await runCli([...argv, ...more])).toBe(0);
    const [version, options] = mocked.fleetStart.mock.calls[0] ?? [];
    expect(fleetRequest(version!, options!)).toEqual({
      targetVersion: '1.3.0',
      environments: ['a'],
      pods: ['database', 'core'],
      strategy: 'rolling',
      approveBefore: ['core'],
      approvalTimeout: '2h',
      restoreDatabase: 'never',
    });
  });
});

describe('requestFieldsOf', () => {
  it('writes nothing for a flag left out: the defaults are the parser’s', () => {
    expect(requestFieldsOf({})).toEqual({});
    expect(upgradeRequest('1.3.0', { env: 'default' })).toEqual(parseUpgradeRequest({ targetVersion: '1.3.0' }));
  });

  it('splits lists at their commas, trimmed, empty items kept; a switch only when given', () => {
    expect(
      requestFieldsOf({ pods: 'database, core,', approveBefore: 'core', redeployAll: true, strategy: 'full' }),
    ).toEqual({ pods: ['database', 'core', ''], approveBefore: ['core'], redeployAll: true, strategy: 'full' });
    expect(requestFieldsOf({ concurrentAfterCore: false })).toEqual({});
  });
});

describe('the one parser still refuses bad values', () => {
  it('an empty item of a list, in start as in a fleet', () => {
    expect(thrown(UsageError, () => upgradeRequest('1.3.0', { env: 'default', pods: 'core,' })).message).toContain(
      'Unknown pod `` in `pods`',
    );
    expect(
      thrown(UsageError, () => fleetRequest('1.3.0', { name: 'default', envs: 'a', approveBefore: 'core,,' })).message,
    ).toContain('Unknown pod `` in `approveBefore`');
  });

  it('a backup that is a path, and a timeout without a gate', () => {
    const { message } = thrown(UsageError, () =>
      upgradeRequest('1.3.0', { env: 'default', restoreFrom: '../etc', approvalTimeout: '2h' }),
    );
    expect(message).toContain("Expected `restoreFrom` to be a backup's directory name");
    expect(message).toContain('`approvalTimeout` needs `approveBefore`');
  });

  it('a switch the request refuses in a fleet as in start', () => {
    const { message } = thrown(UsageError, () =>
      fleetRequest('1.3.0', { name: 'default', envs: 'a', strategy: 'full', redeployAll: true }),
    );
    expect(message).toContain('`redeployAll` cannot be used with strategy full');
  });

  it.each([[['start', '1.3.0']], [['fleet', 'start', '1.3.0', '--envs', 'a']]])(
    '%p refuses a strategy outside its choices, as bad usage',
    async (argv) => {
      const { exitCode, text } = await stderrOf(() => runCli([...argv, '--strategy', 'canary']));
      expect(exitCode).toBe(2);
      expect(text).toContain("argument 'canary' is invalid. Allowed choices are rolling, full");
    },
  );
});

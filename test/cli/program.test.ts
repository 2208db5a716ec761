import os from 'node:os';
import * as commands from '../../src/cli/commands';
import { runCli } from '../../src/cli/program';
import { leafCommands } from '../helpers/command-tree';

// The parse layer alone: each command's options as its operation receives them, no server.
jest.mock('../../src/cli/commands');
const mocked = jest.mocked(commands);

beforeEach(() => {
  jest.resetAllMocks();
  for (const operation of Object.values(mocked)) {
    if (typeof operation === 'function') (operation as jest.Mock).mockResolvedValue(0);
  }
});

describe('runCli', () => {
  it.each([[['history']], [['history', '--env', 'default']], [['history', '--env=default']]])(
    '%p asks for the history of environment default, 20 at most',
    async (argv) => {
      expect(await runCli(argv)).toBe(0);
      expect(mocked.history).toHaveBeenCalledWith({ env: 'default', limit: 20 });
    },
  );

  it("hands doctor its checkout, the deployment's profile and the output format; --profile stays Temporal's", async () => {
    await runCli([
      'doctor',
      '--root',
      '/srv/aegis-deploy',
      '--aegis-profile',
      'full',
      '-o',
      'json',
      '--profile',
      'prod',
    ]);
    await runCli(['doctor', '--files-only']);

    expect(mocked.doctor).toHaveBeenCalledWith({
      root: '/srv/aegis-deploy',
      aegisProfile: 'full',
      output: 'json',
      profile: 'prod',
    });
    expect(mocked.doctor).toHaveBeenLastCalledWith({ filesOnly: true });
  });

  it('hands start the request options in the shape upgradeRequest takes', async () => {
    await runCli(['start', '1.3.0', '--approve-before', 'core', '--restore-database', 'never', '--follow']);

    expect(mocked.start).toHaveBeenCalledWith('1.3.0', {
      env: 'default',
      approveBefore: 'core',
      restoreDatabase: 'never',
      follow: true,
    });
  });

  it("hands fleet start the fleet's options and each upgrade's, numbers as numbers", async () => {
    const argv = ['fleet', 'start', '1.3.0', '--envs', 'a,b,c', '--wave-size', '2', '--failure-budget', '0'];
    await runCli([...argv, '--on-budget-exceeded', 'roll-back-wave', '--approve-before', 'core', '--name', 'night']);
    await runCli(['fleet', 'start', '1.3.0', '--envs', 'a,b', '--canary-failure-budget', '1']);

    expect(mocked.fleetStart).toHaveBeenCalledWith('1.3.0', {
      name: 'night',
      envs: 'a,b,c',
      waveSize: 2,
      failureBudget: 0,
      onBudgetExceeded: 'roll-back-wave',
      approveBefore: 'core',
    });
    expect(mocked.fleetStart).toHaveBeenLastCalledWith('1.3.0', {
      name: 'default',
      envs: 'a,b',
      canaryFailureBudget: 1,
    });
    await runCli(['fleet', 'plan', '1.3.0', '--envs', 'a', '--restore-database-on-wave-rollback']);
    expect(mocked.fleetPlan).toHaveBeenLastCalledWith('1.3.0', {
      name: 'default',
      envs: 'a',
      restoreDatabaseOnWaveRollback: true,
    });
    await runCli(['fleet', 'start', '1.3.0', '--envs', 'a', '--upgrade-start-deadline', '2 minutes']);
    expect(mocked.fleetStart).toHaveBeenLastCalledWith('1.3.0', {
      name: 'default',
      envs: 'a',
      upgradeStartDeadline: '2 minutes',
    });
  });

  it('hands component plan and start the component, its version and the override', async () => {
    await runCli(['component', 'plan', 'postgres', '16', '--env', 'staging', '--json']);
    await runCli(['component', 'start', 'temporal', '1.24', '--allow-unsupported', '--follow']);

    expect(mocked.componentPlan).toHaveBeenCalledWith('postgres', '16', {
      env: 'staging',
      json: true,
      timeout: 600_000,
    });
    expect(mocked.componentStart).toHaveBeenCalledWith('temporal', '1.24', {
      env: 'default',
      allowUnsupported: true,
      follow: true,
    });
  });

  it('refuses fleet start without --envs, and a fleet name that is no safe name', async () => {
    const error = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await runCli(['fleet', 'start', '1.3.0'])).toBe(2);
      expect(await runCli(['fleet', 'status', '--name', 'Night Shift'])).toBe(2);
    } finally {
      error.mockRestore();
    }
    expect(mocked.fleetStart).not.toHaveBeenCalled();
    expect(mocked.fleetStatus).not.toHaveBeenCalled();
  });

  it("takes schedule create's --version as the version to upgrade to, not as the program's", async () => {
    await runCli(['schedule', 'create', '--env', 'weekly', '--version', '1.3.2', '--cron', '0 3 * * SUN']);

    expect(mocked.scheduleCreate).toHaveBeenCalledWith({ env: 'weekly', version: '1.3.2', cron: '0 3 * * SUN' });
  });

  it.each([
    [['unlock'], { env: 'default' }],
    [
      ['unlock', '--env', 'staging', '--reason', 'rolled back by hand'],
      { env: 'staging', reason: 'rolled back by hand' },
    ],
  ])('%p hands unlock its environment and reason', async (argv, options) => {
    expect(await runCli(argv)).toBe(0);
    expect(mocked.unlock).toHaveBeenCalledWith({ ...options, timeout: 120_000 });
  });

  it('refuses unlock with an option it does not take, as bad usage', async () => {
    expect(await runCli(['unlock', '--force'])).toBe(2);
    expect(mocked.unlock).not.toHaveBeenCalled();
  });

  it.each([
    ['history'],
    ['status'],
    ['start', '1.3.0'],
    ['schedule', 'create', '--version', '1.3.0', '--cron', '0 3 * * *'],
  ])('%p refuses an environment name a query or an ID cannot hold, as bad usage, naming it', async (...argv) => {
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await runCli([...argv, '--env', "prod' OR 'x"])).toBe(2);
      expect(stderr.mock.calls.map(([text]) => String(text)).join('')).toContain(
        'Expected --env to be an environment name like staging or eu-west-1 (lowercase letters, digits and inner ' +
          "hyphens, at most 63), got `prod' OR 'x`",
      );
    } finally {
      stderr.mockRestore();
    }
    for (const operation of [mocked.history, mocked.status, mocked.start, mocked.scheduleCreate]) {
      expect(operation).not.toHaveBeenCalled();
    }
  });

  it('hands setup only the global options: it works on the namespace of the connection', async () => {
    expect(await runCli(['setup'])).toBe(0);
    expect(mocked.setup).toHaveBeenCalledWith({});
    expect(await runCli(['setup', '-n', 'staging'])).toBe(0);
    expect(mocked.setup).toHaveBeenLastCalledWith({ namespace: 'staging' });
  });

  describe('the global options, as the temporal CLI has them', () => {
    it('are on every command of the tree, as the README says', () => {
      for (const { words, command } of leafCommands()) {
        const flags = command.options.map((option) => option.long);
        expect({ words, flags }).toEqual({
          words,
          flags: expect.arrayContaining(['--address', '--namespace', '--profile', '--output', '--color']),
        });
      }
    });

    const GLOBAL = ['--address', 'temporal.example:7233', '-n', 'staging', '--profile', 'prod', '-o', 'json'];
    const given = { address: 'temporal.example:7233', namespace: 'staging', profile: 'prod', output: 'json' };

    it.each([
      ['start', ['start', '1.3.0'], () => mocked.start.mock.calls[0]?.[1]],
      ['approve', ['approve'], () => mocked.approve.mock.calls[0]?.[0]],
      ['abort', ['abort'], () => mocked.abort.mock.calls[0]?.[0]],
      ['schedule list', ['schedule', 'list'], () => mocked.scheduleList.mock.calls[0]?.[0]],
      ['fleet status', ['fleet', 'status'], () => mocked.fleetStatus.mock.calls[0]?.[0]],
    ])('%s takes them after its name', async (_words, argv, received) => {
      expect(await runCli([...argv, ...GLOBAL, '--color', 'never'])).toBe(0);
      expect(received()).toMatchObject({ ...given, color: 'never' });
    });

    it.each([
      ['start', ['start', '1.3.0'], () => mocked.start.mock.calls[0]?.[1]],
      ['schedule list', ['schedule', 'list'], () => mocked.scheduleList.mock.calls[0]?.[0]],
    ])('%s takes them before its name too; one given after wins', async (_words, argv, received) => {
      expect(await runCli([...GLOBAL, ...argv, '--namespace', 'prod'])).toBe(0);
      expect(received()).toMatchObject({ ...given, namespace: 'prod' });
    });

    it.each([[['status', '-o', 'yaml']], [['schedule', 'list', '--color', 'sometimes']]])(
      '%p refuses a format or colour mode it does not know, as bad usage',
      async (argv) => {
        const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
        try {
          expect(await runCli(argv)).toBe(2);
        } finally {
          stderr.mockRestore();
        }
        expect(mocked.status).not.toHaveBeenCalled();
        expect(mocked.scheduleList).not.toHaveBeenCalled();
      },
    );
  });

  it('hands approve and abort who does it (user@host unless --by) and why', async () => {
    await runCli(['approve', '--pod', 'core']);
    expect(mocked.approve).toHaveBeenCalledWith({
      env: 'default',
      pod: 'core',
      by: `${os.userInfo().username}@${os.hostname()}`,
    });
    await runCli(['abort', '--by', 'ana@ops-1', '--reason', 'error rate up']);
    expect(mocked.abort).toHaveBeenCalledWith({ env: 'default', by: 'ana@ops-1', reason: 'error rate up' });
    await runCli(['fleet', 'approve', '--by', 'ana', '--reason', 'canary fine']);
    expect(mocked.fleetApprove).toHaveBeenCalledWith({ name: 'default', by: 'ana', reason: 'canary fine' });
  });

  it('hands fleet status and fleet start --follow and its --timeout', async () => {
    await runCli(['fleet', 'status', '--follow', '--timeout', '5 minutes']);
    expect(mocked.fleetStatus).toHaveBeenCalledWith({ name: 'default', follow: true, timeout: 300_000 });
    await runCli(['fleet', 'start', '1.3.0', '--envs', 'a', '--follow']);
    expect(mocked.fleetStart).toHaveBeenCalledWith('1.3.0', { name: 'default', envs: 'a', follow: true });
  });

  it('returns the exit code of the operation', async () => {
    mocked.status.mockResolvedValue(1);

    expect(await runCli(['status', '--follow'])).toBe(1);
    expect(mocked.status).toHaveBeenCalledWith({ env: 'default', follow: true });
  });

  const commandsWithEnv: [string, string[]][] = [
    ['start 1.3.0', ['start', '1.3.0']],
    ['plan 1.3.0', ['plan', '1.3.0']],
    ['status', ['status']],
    ['approve', ['approve']],
    ['abort', ['abort']],
    ['history', ['history']],
    ['unlock', ['unlock']],
    [
      'schedule create --version 1.3.0 --cron 0 3 * * SUN',
      ['schedule', 'create', '--version', '1.3.0', '--cron', '0 3 * * SUN'],
    ],
    ['schedule delete', ['schedule', 'delete']],
    ['schedule trigger', ['schedule', 'trigger']],
  ];

  it.each(commandsWithEnv)('%s refuses an --env that is no environment name, as bad usage', async (_, argv) => {
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await runCli([...argv, '--env', "x' OR 'a'='a"])).toBe(2);
      expect(stderr).toHaveBeenCalledWith(
        expect.stringContaining(
          "aegis-upgrade: option '--env <name>' argument 'x' OR 'a'='a' is invalid. Expected --env to be an environment name",
        ),
      );
    } finally {
      stderr.mockRestore();
    }
    for (const operation of Object.values(mocked)) {
      if (typeof operation === 'function') expect(operation).not.toHaveBeenCalled();
    }
  });

  it.each(commandsWithEnv)('%s hands on a valid --env as given', async (_, argv) => {
    expect(await runCli([...argv, '--env', 'eu-west-1'])).toBe(0);
    const called = Object.values(mocked).filter(
      (operation) => typeof operation === 'function' && (operation as jest.Mock).mock.calls.length > 0,
    ) as jest.Mock[];
    expect(called).toHaveLength(1);
    expect(called[0]?.mock.calls[0]).toContainEqual(expect.objectContaining({ env: 'eu-west-1' }));
  });

  it.each([
    [['environments'], {}],
    [['environments', '--json'], { json: true }],
  ])('%p lists the environments', async (argv, options) => {
    expect(await runCli(argv)).toBe(0);
    expect(mocked.environments).toHaveBeenCalledWith(options);
  });
});

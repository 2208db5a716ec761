import { execa } from 'execa';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { version } from '../../package.json';
import { REPO_ROOT } from '../helpers/repo';
import { freePort } from '../helpers/temporal-server';

/** Generous: a refused connection is reported at once (test/cli/command-tree.int.test.ts times it). */
const TIMEOUT_MS = 30_000;
const CLI = path.join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');

/**
 * What a new operator gets wrong, run as they run it: the built CLI as a process. Each ends with one line on stderr
 * naming the mistake and an exit code that tells it apart (2 bad usage, 3 no server); no stack trace.
 */
describe('aegis-upgrade invoked wrongly', () => {
  let home: string;
  /** A local port nothing listens on: freePort() bound it and let it go. */
  let closedPort: number;

  const aegisUpgrade = (args: string[]) =>
    execa(process.execPath, [CLI, ...args], {
      // AEGIS_ROOT: an empty directory, no deploy checkout.
      env: { PATH: process.env.PATH ?? '', HOME: home, TEMPORAL_ADDRESS: `127.0.0.1:${closedPort}`, AEGIS_ROOT: home },
      extendEnv: false,
      reject: false,
    });

  beforeAll(async () => {
    await fs.access(CLI).catch((error: unknown) => {
      throw new Error(`${CLI} is missing: run \`npm run build\` (npm test does it first)`, { cause: error });
    });
    home = await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-upgrade-invocations-'));
    closedPort = await freePort();
  });

  afterAll(async () => {
    if (home) await fs.rm(home, { recursive: true, force: true });
  });

  /** What, the arguments, the exit code, and the one line it prints (on stdout for 0, on stderr otherwise). */
  const INVOCATIONS: [string, string[], number, string][] = [
    [
      'an unknown option',
      ['start', '1.3.0', '--bogus'],
      2,
      "aegis-upgrade: unknown option '--bogus'. See `aegis-upgrade start --help`",
    ],
    [
      'an option of another command',
      ['approve', '--strategy', 'x'],
      2,
      "aegis-upgrade: unknown option '--strategy'. See `aegis-upgrade approve --help`",
    ],
    ['an unknown command', ['upgrade'], 2, "aegis-upgrade: unknown command 'upgrade'. See `aegis-upgrade --help`"],
    [
      'a mistyped command',
      ['stauts'],
      2,
      "aegis-upgrade: unknown command 'stauts' (Did you mean status?). See `aegis-upgrade --help`",
    ],
    [
      'a missing option value',
      ['history', '--env'],
      2,
      "aegis-upgrade: option '--env <name>' argument missing. See `aegis-upgrade history --help`",
    ],
    [
      'a missing version',
      ['start'],
      2,
      "aegis-upgrade: missing required argument 'version'. See `aegis-upgrade start --help`",
    ],
    [
      'a bad strategy',
      ['start', '1.3.0', '--strategy', 'x'],
      2,
      "aegis-upgrade: option '--strategy <name>' argument 'x' is invalid. Allowed choices are rolling, full. " +
        'See `aegis-upgrade start --help`',
    ],
    [
      'a bad database restore policy',
      ['plan', '1.3.0', '--restore-database', 'maybe'],
      2,
      "aegis-upgrade: option '--restore-database <policy>' argument 'maybe' is invalid. Allowed choices are auto, " +
        'always, never. See `aegis-upgrade plan --help`',
    ],
    [
      'a bad limit',
      ['history', '--limit', '0'],
      2,
      "aegis-upgrade: option '--limit <n>' argument '0' is invalid. Expected a positive whole number. " +
        'See `aegis-upgrade history --help`',
    ],
    [
      'a pod that does not exist',
      ['start', '1.3.0', '--pods', 'web'],
      2,
      'aegis-upgrade: Unknown pod `web` in `pods`: expected one of database, core, temporal, seal-gateway, observability',
    ],
    [
      'an unlock reason of two lines',
      ['unlock', '--reason', 'a\nb'],
      2,
      'aegis-upgrade: Expected `reason` to be one line of text of at most 1000 characters',
    ],
    ['--version', ['--version'], 0, version],
    [
      'an unreachable server',
      ['history'],
      3,
      'aegis-upgrade: Cannot reach the Temporal server at 127.0.0.1:<closed port> (TEMPORAL_ADDRESS, no TLS): ' +
        'connection refused',
    ],
    [
      'an unlock, with an unreachable server',
      ['unlock', '--reason', 'stuck'],
      3,
      'aegis-upgrade: Cannot reach the Temporal server at 127.0.0.1:<closed port> (TEMPORAL_ADDRESS, no TLS): ' +
        'connection refused',
    ],
    [
      // It would wait for an unreachable server (test/cli/command-tree.int.test.ts): it first checks its checkout.
      'the worker, its AEGIS_ROOT no deploy checkout',
      ['worker'],
      2,
      'aegis-upgrade: AEGIS_ROOT <home> has no Makefile and no .env: set AEGIS_ROOT to the deploy checkout the ' +
        'operator runs `make` in',
    ],
  ];

  test.each(INVOCATIONS)(
    '%s (%p) exits %i with one line',
    async (_, args, exitCode, line) => {
      const result = await aegisUpgrade(args);

      const expected = line.replaceAll('<closed port>', String(closedPort)).replaceAll('<home>', home);
      expect({ exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr }).toEqual(
        exitCode === 0 ? { exitCode, stdout: expected, stderr: '' } : { exitCode, stdout: '', stderr: expected },
      );
    },
    TIMEOUT_MS,
  );

  test(
    'each command has a --help with an example, exit 0',
    async () => {
      for (const command of [
        'start',
        'plan',
        'status',
        'approve',
        'abort',
        'history',
        'unlock',
        'schedule',
        'worker',
      ]) {
        const result = await aegisUpgrade([command, '--help']);
        expect(result.exitCode).toBe(0);
        expect(result.stdout).toMatch(new RegExp(`^Usage: aegis-upgrade ${command} `));
        expect(result.stdout).toMatch(new RegExp(`^Example: .*aegis-upgrade ${command}`, 'm'));
      }
    },
    TIMEOUT_MS,
  );

  test('--help lists the commands and the exit codes', async () => {
    const result = await aegisUpgrade(['--help']);

    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^aegis-upgrade: upgrade the AEGIS platform/);
    expect(result.stdout).toMatch(/^ {2}worker /m);
    expect(result.stdout).toMatch(/^Exit codes: 0 done; 1 the upgrade failed or was rolled back; 2 bad usage/m);
    expect(result.stdout).toContain('3 cannot reach the Temporal server');
  });
});

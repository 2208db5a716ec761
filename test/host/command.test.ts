import type { LogMetadata, Logger } from '@temporalio/common';
import { createCommandRunner } from '../../src/host/command';
import { parseEnvFile, secretValues } from '../../src/host/env-file';
import { CommandFailed } from '../../src/core/errors';

/** A command that prints `text` and fails, through the real runner (execa), hiding `secrets`. */
async function failure(text: string, secrets: string[]): Promise<CommandFailed> {
  const run = createCommandRunner(async () => secrets);
  const error = await run('node', ['-e', 'process.stdout.write(process.argv[1]); process.exit(3)', text]).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof CommandFailed)) throw new Error(`Expected CommandFailed, got ${String(error)}`);
  return error;
}

describe('a failed command names no secret', () => {
  it('hides a secret that the cut to the last 2000 characters would split', async () => {
    const secret = 'ghp_0123456789abcdefTAILTAILTAIL';
    // The cut falls inside the secret: only its last 12 characters are within the kept tail.
    const error = await failure(`${'x'.repeat(100)}${secret}${'y'.repeat(1988)}`, [secret]);

    expect(error.outputTail).not.toContain('TAILTAIL');
    expect(error.outputTail).toContain('***');
    expect(error.message).not.toContain('TAILTAIL');
  });

  it('hides every line of a multi-line secret of .env, printed whole or line by line', async () => {
    const key = ['-----BEGIN PRIVATE KEY-----', 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC', '-----END PRIVATE KEY-----'];
    const secrets = secretValues(parseEnvFile(`AEGIS_SEAL_PRIVATE_KEY="${key.join('\n')}"\nAEGIS_IMAGE_TAG=1.2.0\n`));

    const whole = await failure(`key:\n${key.join('\n')}\ndone`, secrets);
    const second = await failure(`unexpected line MIIEvQIBADANBgkqhkiG9w0BAQEFAASC`, secrets);

    expect(whole.outputTail).toBe('key:\n***\ndone');
    expect(second.outputTail).toBe('unexpected line ***');
  });
});

describe('each command is logged as it ends', () => {
  /** Runs `node -e script ...args` through the real runner, its log lines captured. */
  async function logged(script: string, args: string[], secrets: string[], timeoutMs?: number) {
    const lines: { level: string; message: string; meta?: LogMetadata }[] = [];
    const logger: Pick<Logger, 'log'> = { log: (level, message, meta) => void lines.push({ level, message, meta }) };
    const run = createCommandRunner(
      async () => secrets,
      () => logger as Logger,
    );
    await run('node', ['-e', script, ...args], { timeoutMs }).catch(() => undefined);
    return lines;
  }

  it('names the program and its arguments, secrets hidden, with the exit code and the duration', async () => {
    const token = 'ghp_s3cretTOKENvalue';
    const [line, ...more] = await logged('setTimeout(() => {}, 300)', ['login', token], [token]);

    expect(more).toEqual([]);
    expect(line?.level).toBe('INFO');
    expect(line?.message).toMatch(
      /^command `node -e setTimeout\(\(\) => \{\}, 300\) login \*\*\*` exited 0 in \d\.\d s$/,
    );
    expect(line?.meta).toEqual({
      command: expect.stringContaining('login ***'),
      exitCode: 0,
      durationMs: expect.any(Number),
    });
    expect(line?.meta?.durationMs).toBeGreaterThanOrEqual(300);
    expect(JSON.stringify(line)).not.toContain(token);
  });

  it('logs a failed command as a warning with its exit code', async () => {
    const [line] = await logged('process.exit(3)', [], []);

    expect(line).toMatchObject({ level: 'WARN', meta: { exitCode: 3 } });
    expect(line?.message).toMatch(/^command `node -e process.exit\(3\)` exited 3 in \d\.\d s$/);
  });

  it('logs a command that timed out as such', async () => {
    const [line] = await logged('setTimeout(() => {}, 10000)', [], [], 200);

    expect(line?.level).toBe('WARN');
    expect(line?.message).toMatch(/ timed out after \d\.\d s$/);
  });

  it('withholds the arguments when the secrets to hide cannot be read, and still runs the command', async () => {
    const lines: string[] = [];
    const logger = { log: (_level: string, message: string) => void lines.push(message) } as Logger;
    const run = createCommandRunner(
      () => Promise.reject(new Error('ENOENT: .env')),
      () => logger,
    );

    await expect(run('node', ['-e', '0', 'maybe-a-secret'])).resolves.toEqual({ stdout: '', stderr: '' });
    expect(lines).toEqual([expect.stringMatching(/^command `node \(arguments withheld\)` exited 0 in /)]);
  });
});

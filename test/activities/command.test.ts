import { createCommandRunner } from '../../src/activities/command';
import { parseEnvFile, secretValues } from '../../src/activities/env-file';
import { CommandFailed } from '../../src/activities/errors';

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

import { execa } from 'execa';
import { CommandFailed } from './errors';
import { lastLines, redact } from './output';

export interface CommandOptions {
  cwd?: string;
  /** Text written to the command's standard input. */
  input?: string;
  /** A file streamed to the command's standard input. */
  inputFile?: string;
  /** A file the command's standard output is streamed into (for dumps: never held in memory). */
  outputFile?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
  /** Aborts the command, e.g. when the activity is cancelled. */
  signal?: AbortSignal;
}

export interface CommandResult {
  stdout: string;
  stderr: string;
}

/** Runs a program with an argument array (never a shell); throws CommandFailed with the output's last lines. */
export type RunCommand = (file: string, args: readonly string[], options?: CommandOptions) => Promise<CommandResult>;

/** `secrets` is asked at each failure, so a token changed in `.env` is still hidden. */
export function createCommandRunner(secrets: () => Promise<readonly string[]>): RunCommand {
  return async (file, args, options = {}) => {
    const result = await execa(file, args, {
      cwd: options.cwd,
      env: options.env,
      input: options.input,
      inputFile: options.inputFile,
      stdout: options.outputFile ? { file: options.outputFile } : 'pipe',
      timeout: options.timeoutMs,
      cancelSignal: options.signal,
      forceKillAfterDelay: 5_000,
      reject: false,
      stripFinalNewline: true,
    });
    if (result.failed) {
      const hidden = await secrets();
      const command = redact([file, ...args].join(' '), hidden);
      // Redacted whole, then cut: a cut through a secret would leave its tail unrecognised.
      const output = lastLines(redact(`${result.stdout ?? ''}\n${result.stderr ?? ''}`, hidden));
      const reason = result.timedOut
        ? `timed out after ${options.timeoutMs} ms`
        : result.isCanceled
          ? 'cancelled'
          : output;
      throw new CommandFailed(command, result.exitCode, reason || '(no output)');
    }
    return { stdout: String(result.stdout ?? ''), stderr: String(result.stderr ?? '') };
  };
}

import type { Logger } from '@temporalio/common';
import { execa } from 'execa';
import { activityLogger, commandLogLine } from './command-log';
import { CommandFailed } from '../core/errors';
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

/**
 * `secrets` is asked after each command, so a token changed in `.env` is still hidden. Each command is logged as it
 * ends, its secrets hidden, with its exit code and duration, on the running activity's logger unless `log` says.
 */
export function createCommandRunner(
  secrets: () => Promise<readonly string[]>,
  log: () => Logger | undefined = activityLogger,
): RunCommand {
  return async (file, args, options = {}) => {
    const started = performance.now();
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
    const durationMs = Math.round(performance.now() - started);
    // A successful command is not failed for its log line: unreadable secrets withhold its arguments instead.
    const loggable = await secrets().catch(() => undefined);
    const line = commandLogLine(
      loggable ? redact([file, ...args].join(' '), loggable) : `${file} (arguments withheld)`,
      {
        exitCode: result.exitCode,
        durationMs,
        timedOut: result.timedOut,
        cancelled: result.isCanceled,
      },
    );
    log()?.log(line.level, line.message, line.meta);
    if (result.failed) {
      const hidden = loggable ?? (await secrets());
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

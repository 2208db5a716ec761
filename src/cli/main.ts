import { ConfigError } from '../config';
import { ExitCode, CommandFailed, TemporalUnreachable, UsageError } from './errors';
import { runCli } from './program';

/** What the operator can act on, or what the server answered, is one line; anything else (a bug) keeps its stack. */
function exitCodeOf(error: unknown): number | undefined {
  if (error instanceof TemporalUnreachable) return ExitCode.Unreachable;
  if (error instanceof UsageError || error instanceof ConfigError) return ExitCode.Usage;
  if (error instanceof CommandFailed) return ExitCode.Failed;
  return undefined;
}

runCli(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const code = exitCodeOf(err);
    console.error(code === undefined ? err : `aegis-upgrade: ${(err as Error).message}`);
    process.exit(code ?? ExitCode.Failed);
  },
);

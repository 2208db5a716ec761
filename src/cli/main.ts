import { ConfigError } from '../config';
import { ExitCode, TemporalUnreachable, UsageError } from './errors';
import { runCli } from './program';

/** What the operator can act on is one line; anything else (a bug) keeps its stack. */
function exitCodeOf(error: unknown): number {
  if (error instanceof TemporalUnreachable) return ExitCode.Unreachable;
  if (error instanceof UsageError || error instanceof ConfigError) return ExitCode.Usage;
  return ExitCode.Failed;
}

runCli(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const code = exitCodeOf(err);
    console.error(code === ExitCode.Failed ? err : `aegis-upgrade: ${(err as Error).message}`);
    process.exit(code);
  },
);

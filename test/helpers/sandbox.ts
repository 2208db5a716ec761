import { execa } from 'execa';
import path from 'node:path';
import { MissingDependency, REPO_ROOT } from './repo';

const SANDBOX = path.join(REPO_ROOT, 'sandbox', 'sandbox.sh');

/**
 * The sandbox's stand-ins for the host's own programs (`systemctl --user`, which these machines cannot run): first on
 * the PATH of every worker, make and test that acts on the sandbox platform (docs/sandbox.md).
 */
export const SANDBOX_HOST_BIN = path.join(REPO_ROOT, 'sandbox', 'host', 'bin');

/** The sandbox's own commands (`up`, `reset`, …): stderr is its progress, shown when it fails. */
export async function sandbox(
  ...command: ['up' | 'down' | 'reset' | 'status'] | ['latest' | 'fault' | 'behind', string]
): Promise<void> {
  const result = await execa('bash', [SANDBOX, ...command], { reject: false, all: true });
  if (result.failed) {
    throw new MissingDependency(
      `\`npm run sandbox -- ${command.join(' ')}\` failed (exit ${result.exitCode}):\n${result.all}`,
      'Run `npm run bootstrap` (installs podman, the registry, PostgreSQL), then `npm run sandbox -- up`',
    );
  }
}

/** What `npm run sandbox -- env` prints, as an environment for the worker and the tests. */
export async function sandboxEnv(): Promise<Record<string, string>> {
  const { stdout } = await execa('bash', [SANDBOX, 'env']);
  return exportedVariables(stdout);
}

/** `export KEY=value` lines (what `sandbox.sh env` and `deployments.sh env` print) as variables. */
export function exportedVariables(stdout: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const match = /^export ([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (match?.[1]) env[match[1]] = (match[2] ?? '').replace(/^(['"])(.*)\1$/, '$2');
  }
  return env;
}

import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from './repo';
import { SANDBOX_HOST_BIN, exportedVariables } from './sandbox';
import { AS_PLATFORM_USER } from './platform-user';

/**
 * Each integration test file runs in one of the run's lanes (a Jest worker). When the run has more than one
 * (`AEGIS_TEST_LANES`, set by the global set-up), lane N's files act on the deployment `lane-N` of
 * sandbox/deployments.sh, as if on a host of its own: every `sandbox.sh` and `podman` they start, and every worker,
 * sees that deployment's variables. Its checkout names no environment: the tests' workers serve `default`.
 */
// The platform's pods are its user's (rootless): the tests' podman, and the make they run, act as that user. The
// host's `systemctl --user` is the sandbox's stand-in, for them and for every worker they start.
process.env.PATH = `${AS_PLATFORM_USER}:${SANDBOX_HOST_BIN}:${process.env.PATH ?? ''}`;

const lanes = Number(process.env.AEGIS_TEST_LANES ?? '1');
if (lanes > 1) {
  const lane = process.env.JEST_WORKER_ID ?? '1';
  const stdout = execFileSync(
    'bash',
    [path.join(REPO_ROOT, 'sandbox', 'deployments.sh'), 'sandbox-env', `lane-${lane}`],
    {
      encoding: 'utf8',
    },
  );
  Object.assign(process.env, exportedVariables(stdout), { AEGIS_SANDBOX_ENVIRONMENT: '' });
}

import fs from 'node:fs';
import path from 'node:path';
import { MissingDependency, REPO_ROOT } from './repo';

/** Where the snapshot of the real deploy checkout lies beside this repository, as CI lays it out. */
const BESIDE_THE_CLONE = path.join(REPO_ROOT, '..', 'shared', 'aegis-deploy');

/**
 * The real deploy checkout (`aegis-deploy`) the operator runs `make` in, read as test input only: its files are never
 * copied into this repository. `AEGIS_DEPLOY_REFERENCE` names it (`.ci/run` always sets it: there it must exist);
 * unset, the snapshot beside this checkout's parent, if there is one. Undefined when there is none: a user's clone
 * without the snapshot skips the tests that read it, saying so.
 */
export function deployReference(): string | undefined {
  const named = process.env.AEGIS_DEPLOY_REFERENCE;
  const root = named ?? BESIDE_THE_CLONE;
  if (fs.existsSync(path.join(root, 'podman', 'pods'))) return root;
  if (named !== undefined) {
    throw new MissingDependency(
      `The real deploy checkout is not at ${root} (AEGIS_DEPLOY_REFERENCE; no podman/pods)`,
      'Set AEGIS_DEPLOY_REFERENCE to a checkout of 100monkeys-ai/aegis-deploy',
    );
  }
  process.stdout.write(
    `SKIPPED: the tests on the real deploy checkout: none at ${root}. ` +
      'Run them with AEGIS_DEPLOY_REFERENCE=<a checkout of 100monkeys-ai/aegis-deploy> npm test\n',
  );
  return undefined;
}

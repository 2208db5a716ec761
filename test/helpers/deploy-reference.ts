import fs from 'node:fs';
import path from 'node:path';
import { MissingDependency, REPO_ROOT } from './repo';

/**
 * The real deploy checkout (`aegis-deploy`) the operator runs `make` in, read as test input only: its files are never
 * copied into this repository. `AEGIS_DEPLOY_REFERENCE` names it; by default the one beside this checkout's parent.
 */
export function deployReference(): string {
  const root = process.env.AEGIS_DEPLOY_REFERENCE ?? path.join(REPO_ROOT, '..', 'shared', 'aegis-deploy');
  if (!fs.existsSync(path.join(root, 'podman', 'pods'))) {
    throw new MissingDependency(
      `The real deploy checkout is not at ${root} (no podman/pods)`,
      'Set AEGIS_DEPLOY_REFERENCE to a checkout of 100monkeys-ai/aegis-deploy',
    );
  }
  return root;
}

import type { Config } from '@jest/types';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { checkBuildIsCurrent } from './build';
import { clearMatrixResults } from './matrix-tally';
import { REPO_ROOT } from './repo';

/**
 * Jest's global set-up of the integration tests: they run the build, so it must be that of the sources. With more
 * than one worker, each is a lane on a deployment of its own (test/helpers/lane-setup.ts): the images and the
 * registry they share are made here, once, before the lanes start.
 */
export default function integrationSetup(globalConfig: Config.GlobalConfig): void {
  checkBuildIsCurrent();
  clearMatrixResults();
  if (globalConfig.maxWorkers <= 1) return;
  process.env.AEGIS_TEST_LANES = String(globalConfig.maxWorkers);
  process.stderr.write(`\nintegration tests in ${globalConfig.maxWorkers} lanes: the images and registry they share\n`);
  // spawnSync, not execa: the global set-up runs without the projects' module mapping execa needs under Jest.
  const infrastructure = spawnSync(
    'bash',
    ['-c', `. sandbox/lib/main-sandbox.sh && run_main_sandbox "${path.join(REPO_ROOT, '.sandbox')}" infrastructure`],
    { cwd: REPO_ROOT, stdio: 'inherit' },
  );
  if (infrastructure.status !== 0) {
    throw new Error(`\`sandbox.sh infrastructure\` failed (exit ${infrastructure.status}): see its output above`);
  }
}

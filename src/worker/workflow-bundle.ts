import type { Logger } from '@temporalio/common';
import { DefaultLogger, bundleWorkflowCode, type WorkflowBundleOption } from '@temporalio/worker';
import fs from 'node:fs/promises';
import path from 'node:path';

/** The name of the bundle `npm run build` writes beside the compiled worker (`dist/src/`). */
export const WORKFLOW_BUNDLE_FILE = 'workflow-bundle.js';

const WORKFLOWS = require.resolve('../workflows');
const BUNDLE = path.join(__dirname, '..', WORKFLOW_BUNDLE_FILE);
/** What the bundle is made of: the workflows and the workflow-safe core, the only code they import (ESLint checks). */
const BUNDLED_FOLDERS = [path.dirname(WORKFLOWS), path.join(__dirname, '..', 'core')];

/** The workflows as the worker loads them, and where they came from, for its start-up line. */
export interface WorkflowCode {
  workflowBundle: WorkflowBundleOption;
  origin: string;
}

/** Webpack's several-KB report is left out; its warnings and errors are kept. */
function warningsOnly(logger: Logger): Logger {
  return new DefaultLogger('WARN', ({ level, message, meta }) => logger.log(level, message, meta));
}

async function bundle(logger: Logger): Promise<string> {
  const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS, logger: warningsOnly(logger) });
  return code;
}

/** `npm run build`'s last step: the workflows bundled once, so no worker start runs webpack. */
export async function writeWorkflowBundle(logger: Logger): Promise<{ file: string; bytes: number }> {
  const code = await bundle(logger);
  await fs.writeFile(`${BUNDLE}.tmp`, code);
  await fs.rename(`${BUNDLE}.tmp`, BUNDLE);
  return { file: BUNDLE, bytes: Buffer.byteLength(code) };
}

async function newestModule(): Promise<{ file: string; changed: number } | undefined> {
  const extension = path.extname(WORKFLOWS);
  let newest: { file: string; changed: number } | undefined;
  for (const folder of BUNDLED_FOLDERS) {
    for (const name of await fs.readdir(folder, { recursive: true })) {
      if (path.extname(name) !== extension) continue;
      const file = path.join(folder, name);
      const changed = (await fs.stat(file)).mtimeMs;
      if (!newest || changed > newest.changed) newest = { file, changed };
    }
  }
  return newest;
}

/** Why the prebuilt bundle cannot serve: missing, or older than a module it is made of (a build without the bundle step). */
async function whyNotPrebuilt(): Promise<string | undefined> {
  let built: number;
  try {
    built = (await fs.stat(BUNDLE)).mtimeMs;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return `no prebuilt workflow bundle at ${BUNDLE}`;
    throw error;
  }
  const newest = await newestModule();
  if (newest && newest.changed > built) {
    return `the workflow bundle ${BUNDLE} is older than ${newest.file}`;
  }
  return undefined;
}

/**
 * The prebuilt bundle when it is current. Otherwise (run from the TypeScript sources, or a build that skipped the
 * bundle) the workflows are bundled now, which takes seconds, and a warning says why.
 */
export async function loadWorkflowCode(logger: Logger): Promise<WorkflowCode> {
  const why = await whyNotPrebuilt();
  if (why === undefined) {
    return { workflowBundle: { codePath: BUNDLE }, origin: `the prebuilt workflow bundle ${BUNDLE}` };
  }
  logger.warn(`aegis-upgrade worker: ${why}: bundling the workflows now (\`npm run build\` writes the bundle)`);
  return { workflowBundle: { code: await bundle(logger) }, origin: `workflows bundled at start from ${WORKFLOWS}` };
}

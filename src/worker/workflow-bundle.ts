import type { Logger } from '@temporalio/common';
import { DefaultLogger, bundleWorkflowCode, type WorkflowBundleOption } from '@temporalio/worker';
import fs from 'node:fs/promises';
import path from 'node:path';

/** The name of the bundle `npm run build` writes beside the compiled worker (`dist/src/`). */
export const WORKFLOW_BUNDLE_FILE = 'workflow-bundle.js';

/** Where the workflows, the modules they are made of and their bundle are. */
export interface BundleLayout {
  /** The workflows' entry module. */
  workflows: string;
  /** Every module bundled with them: the workflows and the workflow-safe core, all they import (ESLint checks). */
  folders: string[];
  bundle: string;
}

/** This build's: `dist/src/` when compiled, `src/` (no bundle) under ts-jest. */
const BUILD: BundleLayout = {
  workflows: require.resolve('../workflows'),
  folders: [path.join(__dirname, '..', 'workflows'), path.join(__dirname, '..', 'core')],
  bundle: path.join(__dirname, '..', WORKFLOW_BUNDLE_FILE),
};

/** The workflows as the worker loads them, and where they came from, for its start-up line. */
export interface WorkflowCode {
  workflowBundle: WorkflowBundleOption;
  origin: string;
}

/** Webpack's several-KB report is left out; its warnings and errors are kept. */
function warningsOnly(logger: Logger): Logger {
  return new DefaultLogger('WARN', ({ level, message, meta }) => logger.log(level, message, meta));
}

async function bundle(workflowsPath: string, logger: Logger): Promise<string> {
  const { code } = await bundleWorkflowCode({ workflowsPath, logger: warningsOnly(logger) });
  return code;
}

/** `npm run build`'s last step: the workflows bundled once, so no worker start runs webpack. */
export async function writeWorkflowBundle(
  logger: Logger,
  { workflows, bundle: file }: BundleLayout = BUILD,
): Promise<{ file: string; bytes: number }> {
  const code = await bundle(workflows, logger);
  await fs.writeFile(`${file}.tmp`, code);
  await fs.rename(`${file}.tmp`, file);
  return { file, bytes: Buffer.byteLength(code) };
}

async function newestModule({
  workflows,
  folders,
}: BundleLayout): Promise<{ file: string; changed: number } | undefined> {
  const extension = path.extname(workflows);
  let newest: { file: string; changed: number } | undefined;
  for (const folder of folders) {
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
async function whyNotPrebuilt(layout: BundleLayout): Promise<string | undefined> {
  let built: number;
  try {
    built = (await fs.stat(layout.bundle)).mtimeMs;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return `no prebuilt workflow bundle at ${layout.bundle}`;
    throw error;
  }
  const newest = await newestModule(layout);
  if (newest && newest.changed > built) {
    return `the workflow bundle ${layout.bundle} is older than ${newest.file}`;
  }
  return undefined;
}

/**
 * The prebuilt bundle when it is current. Otherwise (run from the TypeScript sources, or a build that skipped the
 * bundle) the workflows are bundled now, which takes seconds, and a warning says why.
 */
export async function loadWorkflowCode(logger: Logger, layout: BundleLayout = BUILD): Promise<WorkflowCode> {
  const why = await whyNotPrebuilt(layout);
  if (why === undefined) {
    return { workflowBundle: { codePath: layout.bundle }, origin: `the prebuilt workflow bundle ${layout.bundle}` };
  }
  logger.warn(`aegis-upgrade worker: ${why}: bundling the workflows now (\`npm run build\` writes the bundle)`);
  return {
    workflowBundle: { code: await bundle(layout.workflows, logger) },
    origin: `workflows bundled at start from ${layout.workflows}`,
  };
}

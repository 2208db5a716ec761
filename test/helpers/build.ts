import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { WORKFLOW_BUNDLE_FILE } from '../../src/worker/workflow-bundle';
import { MissingDependency, REPO_ROOT } from './repo';

/** The files `npm run build` compiles (tsconfig.build.json says which) and the directory it writes them to. */
function buildInputs(root: string): { sources: string[]; outDir: string } {
  const config = ts.getParsedCommandLineOfConfigFile(
    path.join(root, 'tsconfig.build.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
        throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
      },
    },
  );
  if (!config?.options.outDir) throw new Error(`${root}/tsconfig.build.json names no outDir`);
  return { sources: config.fileNames, outDir: config.options.outDir };
}

function filesUnder(directory: string): string[] {
  return fs
    .readdirSync(directory, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name));
}

/**
 * Refuses a build older than its sources: the worker and the CLI the integration tests run are `dist/`, and Jest run
 * without `npm test` (which builds first) would test old code. The build's time is that of its oldest file.
 */
export function checkBuildIsCurrent(root = REPO_ROOT): void {
  const { sources, outDir } = buildInputs(root);
  const build = `${path.relative(root, outDir)}/`;
  const built = fs.existsSync(outDir) ? filesUnder(outDir) : [];
  if (built.length === 0) throw new MissingDependency(`${build} is missing`, 'Run `npm run build`');
  // Its last step; without it every worker the tests start would bundle the workflows itself.
  const bundle = path.join(outDir, 'src', WORKFLOW_BUNDLE_FILE);
  if (!built.includes(bundle)) {
    throw new MissingDependency(
      `${path.relative(root, bundle)} is missing`,
      'Run `npm run build` (tsc alone omits it)',
    );
  }
  const buildTime = Math.min(...built.map((file) => fs.statSync(file).mtimeMs));
  const newest = sources
    .map((file) => ({ file, changed: fs.statSync(file).mtimeMs }))
    .reduce((a, b) => (b.changed > a.changed ? b : a));
  if (newest.changed > buildTime) {
    throw new MissingDependency(
      `${build} is older than its sources (${path.relative(root, newest.file)} changed at ` +
        `${new Date(newest.changed).toISOString()}, after the build of ${new Date(buildTime).toISOString()})`,
      'Run `npm run build` (npm test does it first)',
    );
  }
}

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { WORKFLOW_BUNDLE_FILE } from '../../src/worker/workflow-bundle';
import { checkBuildIsCurrent } from './build';

/** A checkout in small: tsconfig.build.json, one source, and its build (with its workflow bundle) once `built` is called. */
async function checkout(): Promise<{ root: string; source: string; built: () => Promise<void> }> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-build-'));
  await fs.writeFile(
    path.join(root, 'tsconfig.build.json'),
    JSON.stringify({ compilerOptions: { outDir: 'dist', rootDir: '.' }, include: ['src'] }),
  );
  const source = path.join(root, 'src', 'worker.ts');
  await fs.mkdir(path.dirname(source));
  await fs.writeFile(source, 'export {};\n');
  const built = async () => {
    await fs.mkdir(path.join(root, 'dist', 'src'), { recursive: true });
    await fs.writeFile(path.join(root, 'dist', 'src', 'worker.js'), '"use strict";\n');
    await fs.writeFile(path.join(root, 'dist', 'src', WORKFLOW_BUNDLE_FILE), '"use strict";\n');
  };
  return { root, source, built };
}

describe('the integration tests run the build of the sources', () => {
  const roots: string[] = [];
  afterAll(async () => {
    for (const root of roots) await fs.rm(root, { recursive: true, force: true });
  });

  test('a build newer than every source is accepted', async () => {
    const { root, built } = await checkout();
    roots.push(root);
    await built();
    expect(() => checkBuildIsCurrent(root)).not.toThrow();
  });

  test('a source changed after the build is refused, naming the source and `npm run build`', async () => {
    const { root, source, built } = await checkout();
    roots.push(root);
    await built();
    const later = new Date(Date.now() + 60_000);
    await fs.utimes(source, later, later);
    expect(() => checkBuildIsCurrent(root)).toThrow(
      /dist\/ is older than its sources \(src\/worker\.ts changed at .*npm run build/,
    );
  });

  test('a build without its workflow bundle (tsc alone) is refused', async () => {
    const { root, built } = await checkout();
    roots.push(root);
    await built();
    await fs.rm(path.join(root, 'dist', 'src', WORKFLOW_BUNDLE_FILE));
    expect(() => checkBuildIsCurrent(root)).toThrow(
      `dist/src/${WORKFLOW_BUNDLE_FILE} is missing. Run \`npm run build\` (tsc alone omits it)`,
    );
  });

  test('no build is refused', async () => {
    const { root } = await checkout();
    roots.push(root);
    expect(() => checkBuildIsCurrent(root)).toThrow(/dist\/ is missing\. Run `npm run build`/);
  });
});

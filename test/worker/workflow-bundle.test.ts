import { DefaultLogger, type LogEntry } from '@temporalio/worker';
import fs from 'node:fs/promises';
import path from 'node:path';
import { loadWorkflowCode, writeWorkflowBundle, type BundleLayout } from '../../src/worker/workflow-bundle';
import { REPO_ROOT } from '../helpers/repo';

const BUNDLE_TIMEOUT_MS = 60_000;

/**
 * The worker loads the bundle `npm run build` wrote, and bundles the workflows itself only when that bundle is missing
 * or older than a module it is made of, saying so. Real webpack on a one-workflow build laid out as dist/src/ is.
 */
describe('the workflow bundle', () => {
  let dir: string;
  let layout: BundleLayout;
  let lines: LogEntry[];
  const logger = () => new DefaultLogger('TRACE', (entry) => lines.push(entry));

  beforeEach(async () => {
    // In the checkout: webpack resolves the SDK's workflow package from the workflows' folder up.
    await fs.mkdir(path.join(REPO_ROOT, '.test-results'), { recursive: true });
    dir = await fs.mkdtemp(path.join(REPO_ROOT, '.test-results', 'bundle-'));
    await fs.mkdir(path.join(dir, 'workflows'));
    await fs.mkdir(path.join(dir, 'core'));
    await fs.writeFile(path.join(dir, 'core', 'greeting.js'), "exports.greeting = 'hello';\n");
    await fs.writeFile(
      path.join(dir, 'workflows', 'index.js'),
      "const { greeting } = require('../core/greeting');\nexports.greet = async () => greeting;\n",
    );
    layout = {
      workflows: path.join(dir, 'workflows', 'index.js'),
      folders: [path.join(dir, 'workflows'), path.join(dir, 'core')],
      bundle: path.join(dir, 'workflow-bundle.js'),
    };
    lines = [];
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  test(
    'built once, it is what the worker loads: by path, with no bundling and no line logged',
    async () => {
      const { file, bytes } = await writeWorkflowBundle(logger(), layout);
      expect(file).toBe(layout.bundle);
      expect((await fs.stat(file)).size).toBe(bytes);
      expect(await fs.readFile(file, 'utf8')).toContain("exports.greeting = 'hello'");
      expect(await loadWorkflowCode(logger(), layout)).toEqual({
        workflowBundle: { codePath: layout.bundle },
        origin: `the prebuilt workflow bundle ${layout.bundle}`,
      });
      // Webpack's report (several KB at INFO) is not logged, at build or at start.
      expect(lines).toEqual([]);
    },
    BUNDLE_TIMEOUT_MS,
  );

  test(
    'missing, the workflows are bundled at start, after a warning that says why',
    async () => {
      const { workflowBundle, origin } = await loadWorkflowCode(logger(), layout);
      expect(origin).toBe(`workflows bundled at start from ${layout.workflows}`);
      expect('code' in workflowBundle && workflowBundle.code).toContain("exports.greeting = 'hello'");
      expect(lines.map(({ level, message }) => ({ level, message }))).toEqual([
        {
          level: 'WARN',
          message:
            `aegis-upgrade worker: no prebuilt workflow bundle at ${layout.bundle}: bundling the workflows now ` +
            '(`npm run build` writes the bundle)',
        },
      ]);
    },
    BUNDLE_TIMEOUT_MS,
  );

  test(
    'older than a module of the core (compiled again without the bundle step), it is not used',
    async () => {
      await writeWorkflowBundle(logger(), layout);
      const later = new Date(Date.now() + 60_000);
      await fs.utimes(path.join(dir, 'core', 'greeting.js'), later, later);
      const { workflowBundle } = await loadWorkflowCode(logger(), layout);
      expect('code' in workflowBundle).toBe(true);
      expect(lines.map(({ message }) => message)).toEqual([
        `aegis-upgrade worker: the workflow bundle ${layout.bundle} is older than ` +
          `${path.join(dir, 'core', 'greeting.js')}: bundling the workflows now (\`npm run build\` writes the bundle)`,
      ]);
    },
    BUNDLE_TIMEOUT_MS,
  );
});

import fs from 'node:fs';
import path from 'node:path';
import * as commands from '../src/cli/commands';
import { runCli } from '../src/cli/program';
import { exportedName, UpgradeMetric } from '../src/core/metrics';
import { REPO_ROOT } from './helpers/repo';

// The parse layer alone: a command the README names runs its operation, which does nothing here.
jest.mock('../src/cli/commands');
const mocked = jest.mocked(commands);

const read = (file: string) => fs.readFileSync(path.join(REPO_ROOT, file), 'utf8');
const DOCS = fs
  .readdirSync(path.join(REPO_ROOT, 'docs'))
  .filter((name) => name.endsWith('.md'))
  .map((name) => `docs/${name}`);
const PAGES = ['README.md', ...DOCS];

/** Every file under `dir`, as a path from the repository's root. */
function filesUnder(dir: string): string[] {
  return fs
    .readdirSync(path.join(REPO_ROOT, dir), { withFileTypes: true })
    .flatMap((entry) =>
      entry.isDirectory() ? filesUnder(`${dir}/${entry.name}`) : entry.isFile() ? [`${dir}/${entry.name}`] : [],
    );
}

/** A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces as hyphens. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

const anchorsOf = (page: string) =>
  new Set([...read(page).matchAll(/^#{1,6} (.+)$/gm)].map(([, heading = '']) => anchorOf(heading)));

/** The lines of a page's ```sh blocks, a line continued with `\` joined to the next. */
function shellLines(page: string): string[] {
  return [...read(page).matchAll(/^```sh\n([\s\S]*?)^```$/gm)].flatMap(([, block = '']) =>
    block
      .replace(/\\\n\s*/g, '')
      .split('\n')
      .filter(Boolean),
  );
}

/** A command line's words, as the shell splits them (quotes removed), without its trailing comment. */
function words(line: string): string[] {
  const command = line.replace(/\s+#\s.*$/, '');
  return [...command.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map(
    ([, single, double, bare]) => single ?? double ?? bare ?? '',
  );
}

describe('the README', () => {
  const readme = read('README.md');

  it('stays short: 200 lines at most', () => {
    expect(readme.split('\n').length).toBeLessThanOrEqual(200);
  });

  it('opens with the two commands a new machine runs: npm run demo, then npm test', () => {
    const firstBlock = readme.match(/^```sh\n([\s\S]*?)^```$/m)?.[1] ?? '';
    expect(
      firstBlock
        .split('\n')
        .filter(Boolean)
        .map((line) => words(line).join(' ')),
    ).toEqual(['npm run demo', 'npm test']);
    expect(readme.indexOf('```sh')).toBeLessThan(readme.indexOf('\n## '));
  });

  it('names only commands and options that exist, each line running as written', async () => {
    const lines = shellLines('README.md').filter((line) => line.startsWith('aegis-upgrade '));
    expect(lines.length).toBeGreaterThan(5);
    for (const line of lines) {
      jest.resetAllMocks();
      for (const operation of Object.values(mocked)) {
        if (typeof operation === 'function') (operation as jest.Mock).mockResolvedValue(0);
      }
      const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
      const exitCode = await runCli(words(line).slice(1));
      stderr.mockRestore();
      const called = Object.values(mocked).filter(
        (operation) => typeof operation === 'function' && (operation as jest.Mock).mock.calls.length > 0,
      );
      expect({ line, exitCode, operationsRun: called.length }).toEqual({ line, exitCode: 0, operationsRun: 1 });
    }
  });
});

describe('the documentation', () => {
  it.each(PAGES)('%s links only to files and headings that exist', (page) => {
    const broken = [...read(page).matchAll(/\]\(([^)\s]+)\)/g)]
      .map(([, target = '']) => target)
      .filter((target) => !/^[a-z]+:/.test(target))
      .filter((target) => {
        const [file = '', anchor] = target.split('#');
        const linked = file ? path.posix.normalize(path.posix.join(path.posix.dirname(page), file)) : page;
        if (!fs.existsSync(path.join(REPO_ROOT, linked))) return true;
        return anchor !== undefined && linked.endsWith('.md') && !anchorsOf(linked).has(anchor);
      });
    expect(broken).toEqual([]);
  });

  it.each(PAGES)('%s names only files of the repository that exist', (page) => {
    const named = [...read(page).matchAll(/`((?:src|test|sandbox|scripts|bench|deploy|docs)\/[\w./-]+)`/g)].map(
      ([, file = '']) => file,
    );
    expect(named.filter((file) => !fs.existsSync(path.join(REPO_ROOT, file)))).toEqual([]);
  });

  it('has a source map that names every file of src/, each once', () => {
    const map = read('docs/source-map.md');
    const named = [...map.matchAll(/^- `(src\/[^`]+)`/gm)].map(([, file = '']) => file);
    expect([...named].sort()).toEqual(filesUnder('src').sort());
  });

  it('keeps the UI filters the search-attribute test runs, each with what it finds', () => {
    const doc = read('docs/observability.md');
    const section = doc.slice(doc.indexOf('## In the Temporal UI'), doc.indexOf("A run's current details"));
    expect([...section.matchAll(/^(Aegis.+?)\s+# (.+)$/gm)]).toHaveLength(6);
  });

  it("lists each of the upgrade's metrics by its name on the worker's page", () => {
    const doc = read('docs/observability.md');
    const listed = [...doc.matchAll(/^\| `(aegis_\w+)`/gm)].map(([, name = '']) => name);
    expect(listed.sort()).toEqual(Object.values(UpgradeMetric).map(exportedName).sort());
  });
});

describe("the code's citations", () => {
  const sources = ['src', 'test', 'sandbox', 'bench', 'scripts']
    .flatMap(filesUnder)
    .filter((file) => /\.(ts|js|sh|sql|conf|yaml|c|mk)$|Makefile$/.test(file) && file !== 'test/docs.test.ts');

  it("cite the project's own docs/, each page existing", () => {
    const cited = sources.flatMap((file) =>
      [...read(file).matchAll(/\bdocs\/([\w-]+\.md)/g)].map(([, page = '']) => ({ file, page })),
    );
    expect(cited.length).toBeGreaterThan(0);
    expect(cited.filter(({ page }) => !DOCS.includes(`docs/${page}`))).toEqual([]);
  });

  it('never a file a user lacks: the lead notes, the shared reference, the README that moved', () => {
    const lacking = /FACTS\.md|upgrade-procedures|\.\.\/shared\/|sandbox\/README/;
    expect(sources.filter((file) => lacking.test(read(file)))).toEqual([]);
  });
});

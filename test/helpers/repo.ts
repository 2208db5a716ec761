import fs from 'node:fs';
import path from 'node:path';

/** The checkout's root, from the sources or from their build under `dist/`. */
function findRepoRoot(start: string): string {
  for (let dir = start; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package-lock.json'))) return dir;
  }
  throw new Error(`No package-lock.json above ${start}`);
}

export const REPO_ROOT = findRepoRoot(__dirname);

/** Says what is missing and how to get it: a test never skips itself because a part is absent. */
export class MissingDependency extends Error {
  override readonly name = 'MissingDependency';
  constructor(what: string, fix: string, options?: { cause?: unknown }) {
    super(`${what}. ${fix}`, options);
  }
}

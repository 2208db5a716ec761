import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_DATABASE_ROLE } from '../core/platform';

/** The deploy checkout's `.env`: the image tag lives there, beside the platform's secrets. */
export const IMAGE_TAG_KEY = 'AEGIS_IMAGE_TAG';

/** The PostgreSQL role of `.env` (`POSTGRES_USER`): every psql, dump and restore runs as it. */
export function databaseRole(deployEnv: ReadonlyMap<string, string>): string {
  return deployEnv.get('POSTGRES_USER') ?? DEFAULT_DATABASE_ROLE;
}

/** Keys whose values never leave the worker: not in history, reports, errors or logs. */
const SECRET_KEY = /(TOKEN|PASSWORD|SECRET|PRIVATE_KEY|API_KEY|ROLE_ID)/;

const ASSIGNMENT = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/;

export function parseEnvFile(text: string): Map<string, string> {
  const values = new Map<string, string>();
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const match = ASSIGNMENT.exec(lines[index] ?? '');
    if (match?.[1] === undefined) continue;
    let value = (match[2] ?? '').trim();
    const end = closingLine(value, lines, index);
    if (end !== undefined) {
      value = [value, ...lines.slice(index + 1, end + 1)].join('\n').trimEnd();
      index = end;
    }
    values.set(match[1], unquote(value));
  }
  return values;
}

/**
 * A quote opened and not closed on its line goes on, as in the shell, to the line that ends with it (a PEM key);
 * without such a line the value is read as the one line it is.
 */
function closingLine(value: string, lines: readonly string[], index: number): number | undefined {
  const quote = value[0];
  if ((quote !== '"' && quote !== "'") || value.indexOf(quote, 1) !== -1) return undefined;
  for (let next = index + 1; next < lines.length; next++) {
    const line = (lines[next] ?? '').trimEnd();
    if (line.includes(quote)) return line.endsWith(quote) && line.indexOf(quote) === line.length - 1 ? next : undefined;
  }
  return undefined;
}

/** As the shell that sources `.env` reads a value: quotes removed, or an unquoted value cut at ` #`. */
function unquote(value: string): string {
  const quoted = /^(['"])([^]*)\1$/.exec(value);
  return quoted ? (quoted[2] ?? '') : value.replace(/\s+#.*$/, '');
}

/** Sets `key=value`, keeping every other line, comment and the file's ending as they were. */
export function setEnvValue(text: string, key: string, value: string): string {
  let found = false;
  const lines = text.split('\n').map((line) => {
    const match = ASSIGNMENT.exec(line);
    if (match?.[1] !== key) return line;
    found = true;
    return `${key}=${value}`;
  });
  if (found) return lines.join('\n');
  const separator = text === '' || text.endsWith('\n') ? '' : '\n';
  return `${text}${separator}${key}=${value}\n`;
}

/** The values to hide: each secret whole, and each line of a multi-line one, as a tool may print it line by line. */
export function secretValues(values: Map<string, string>): string[] {
  return [...values]
    .filter(([key, value]) => SECRET_KEY.test(key) && value !== '')
    .flatMap(([, value]) => [value, ...(value.includes('\n') ? value.split('\n').map((line) => line.trim()) : [])])
    .filter(Boolean);
}

export async function readDeployEnv(root: string): Promise<Map<string, string>> {
  return parseEnvFile(await fs.readFile(path.join(root, '.env'), 'utf8'));
}

/** Writes beside the target then renames over it, keeping its mode: a crash leaves the old file or the new one. */
export async function writeFileAtomic(file: string, content: string): Promise<void> {
  await fs.rename(await writeBeside(file, content), file);
}

/** Writes `content` to a new file beside `file`, with `file`'s mode; returns its path, for a rename over `file`. */
async function writeBeside(file: string, content: string): Promise<string> {
  const temporary = `${file}.${randomUUID()}.tmp`;
  const mode = await fs
    .stat(file)
    .then((stat) => stat.mode)
    .catch(() => 0o600);
  // Created readable by its owner only (a umask can only narrow it), so `.env`'s secrets are never open to others;
  // then given the target's own mode, which the umask would have cut at creation.
  await fs.writeFile(temporary, content, { mode: 0o600, flag: 'wx' });
  await fs.chmod(temporary, mode & 0o7777);
  return temporary;
}

/** How many times a write of `.env` starts again when another writer changed the file meanwhile. */
const ENV_WRITE_ATTEMPTS = 5;

/**
 * Sets one key of an env file that other writers change too, and never loses their lines: the real
 * `make bootstrap-secrets` rewrites its AppRole lines with `sed -i` and appends missing ones with `>>`, taking no lock
 * (docs/platform.md). Each attempt reads the file afresh, replaces that key's line only, writes the result beside it,
 * and renames it over the file only if the file still reads as it did; otherwise it starts again. Then it reads the
 * file back: the key has the value, and every key read is still there. Returns the text it replaced; a file that
 * already has the value is left as it is.
 *
 * `beforeRename` runs between the write beside and the rename (a test's other writer).
 */
export async function setEnvFileValue(
  file: string,
  key: string,
  value: string,
  beforeRename: () => Promise<void> = async () => {},
): Promise<string> {
  for (let attempt = 1; attempt <= ENV_WRITE_ATTEMPTS; attempt++) {
    const text = await fs.readFile(file, 'utf8');
    if (parseEnvFile(text).get(key) === value) return text;
    const temporary = await writeBeside(file, setEnvValue(text, key, value));
    await beforeRename();
    if ((await fs.readFile(file, 'utf8')) !== text) {
      await fs.rm(temporary, { force: true });
      continue;
    }
    await fs.rename(temporary, file);
    const written = parseEnvFile(await fs.readFile(file, 'utf8'));
    const lost = [...parseEnvFile(text).keys()].filter((known) => !written.has(known));
    if (written.get(key) !== value || lost.length > 0) {
      throw new Error(
        `${file} does not read as written: ${written.get(key) === value ? `lost ${lost.join(', ')}` : `${key} is not the value set`}`,
      );
    }
    return text;
  }
  throw new Error(
    `${file} changed under each of ${ENV_WRITE_ATTEMPTS} attempts to set ${key}: another writer is at work on it ` +
      '(make bootstrap-secrets?); nothing was written, the next attempt reads it again',
  );
}

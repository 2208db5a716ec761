import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

/** The deploy checkout's `.env`: the image tag lives there, beside the platform's secrets. */
export const IMAGE_TAG_KEY = 'AEGIS_IMAGE_TAG';

/** Keys whose values never leave the worker: not in history, reports, errors or logs. */
const SECRET_KEY = /(TOKEN|PASSWORD|SECRET|PRIVATE_KEY|API_KEY|ROLE_ID)/;

const ASSIGNMENT = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/;

export function parseEnvFile(text: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = ASSIGNMENT.exec(line);
    if (match?.[1] !== undefined) values.set(match[1], unquote((match[2] ?? '').trim()));
  }
  return values;
}

/** As the shell that sources `.env` reads a value: quotes removed, or an unquoted value cut at ` #`. */
function unquote(value: string): string {
  const quoted = /^(['"])(.*)\1$/.exec(value);
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

export function secretValues(values: Map<string, string>): string[] {
  return [...values].filter(([key, value]) => SECRET_KEY.test(key) && value !== '').map(([, value]) => value);
}

export async function readDeployEnv(root: string): Promise<Map<string, string>> {
  return parseEnvFile(await fs.readFile(path.join(root, '.env'), 'utf8'));
}

/** Writes beside the target then renames over it, keeping its mode: a crash leaves the old file or the new one. */
export async function writeFileAtomic(file: string, content: string): Promise<void> {
  const temporary = `${file}.${randomUUID()}.tmp`;
  const mode = await fs
    .stat(file)
    .then((stat) => stat.mode)
    .catch(() => 0o600);
  await fs.writeFile(temporary, content);
  // Set after writing: the mode given at creation is cut by the process umask.
  await fs.chmod(temporary, mode & 0o7777);
  await fs.rename(temporary, file);
}

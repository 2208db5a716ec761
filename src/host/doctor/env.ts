/** `.env` as an upgrade reads it, and the registry credentials `make registry-login` takes from it. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { blocking, passed, warned, type DoctorCheck } from '../../core/doctor';
import { IMAGE_TAG_KEY, parseEnvFile } from '../env-file';
import { readIfPresent } from './files';

/** The keys `make registry-login` reads: it refuses an empty token, and every redeploy runs it first. */
const REGISTRY_KEYS = ['GHCR_USERNAME', 'GHCR_TOKEN'] as const;
/** `.env` keys an upgrade reads, and what lacking one does. */
const EXPECTED_KEYS = [
  { key: IMAGE_TAG_KEY, why: 'the version running; unset reads as latest' },
  { key: 'POSTGRES_USER', why: 'the role of psql, dumps and restores; unset, aegis' },
  {
    key: 'POSTGRES_PASSWORD',
    why: 'the worker reaches PostgreSQL with it; unset, only trust authentication lets it in',
  },
] as const;

/** The check pre-flight leaves out: it runs `make registry-login` itself, which reads the same keys and logs in. */
export const REGISTRY_CREDENTIALS = 'Registry credentials';

const readEnvFiles = (root: string) =>
  Promise.all([readIfPresent(path.join(root, '.env')), readIfPresent(path.join(root, '.env.example'))]);

/** `.env`: there, with the keys an upgrade reads and those of `.env.example`. Values are never shown. */
export async function checkEnvFile(root: string): Promise<DoctorCheck> {
  const name = '.env';
  const [text, example] = await readEnvFiles(root);
  if (text === undefined) {
    const keys = [...REGISTRY_KEYS, ...EXPECTED_KEYS.map(({ key }) => key)].join(', ');
    return blocking(
      name,
      `no .env in ${root}: every make target sources it`,
      example === undefined
        ? `write .env with ${keys}`
        : `install -m 600 .env.example .env, then fill in ${keys} and the rest it asks for`,
    );
  }
  const values = parseEnvFile(text);
  const unset = EXPECTED_KEYS.filter(({ key }) => !values.get(key));
  const notInEnv = example === undefined ? [] : [...parseEnvFile(example).keys()].filter((key) => !values.has(key));
  const { mode } = await fs.stat(path.join(root, '.env'));
  // It holds the registry token and the database password: its owner's alone.
  const open = (mode & 0o077) !== 0;
  const notes = [
    unset.length > 0 && `unset: ${unset.map(({ key, why }) => `${key} (${why})`).join(', ')}`,
    notInEnv.length > 0 && `keys of .env.example not in .env: ${notInEnv.join(', ')}`,
    open && `readable by others than its owner (mode ${(mode & 0o777).toString(8)}), secrets and all`,
  ].filter(Boolean);
  if (notes.length > 0) {
    const fixes = [
      (unset.length > 0 || notInEnv.length > 0) && 'add the keys to .env, as .env.example describes them',
      open && 'chmod 600 .env',
    ].filter(Boolean);
    return warned(name, notes.join('; '), fixes.join('; '));
  }
  const keys = EXPECTED_KEYS.map(({ key }) => key).join(', ');
  return passed(name, `${keys} set${example === undefined ? '' : '; every key of .env.example present'}`);
}

/** GHCR_USERNAME and GHCR_TOKEN in `.env`, read, not tried: doctor logs in nowhere. */
export async function checkRegistryCredentials(root: string): Promise<DoctorCheck> {
  const [text] = await readEnvFiles(root);
  if (text === undefined) return blocking(REGISTRY_CREDENTIALS, 'no .env to read them from', 'see .env');
  const values = parseEnvFile(text);
  const empty = REGISTRY_KEYS.filter((key) => !values.get(key));
  if (empty.length > 0) {
    return blocking(
      REGISTRY_CREDENTIALS,
      `${empty.join(' and ')} empty or missing in .env: \`make registry-login\`, which every redeploy runs first, refuses them`,
      `set ${empty.join(' and ')} in .env (a token with read:packages)`,
    );
  }
  return passed(REGISTRY_CREDENTIALS, `${REGISTRY_KEYS.join(' and ')} set in .env`);
}

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { IMAGE_TAG_KEY, parseEnvFile, secretValues, setEnvValue, writeFileAtomic } from '../../src/host/env-file';

/** The shape of the deploy checkout's `.env` (aegis-deploy's `.env.example`, filled in). */
const DEPLOY_ENV = [
  '# --- Registry ---',
  '# Required to pull images from ghcr.io/100monkeys-ai.',
  'GHCR_USERNAME=operator',
  'GHCR_TOKEN=ghp_0123456789abcdef',
  '',
  '# --- Image Tags ---',
  'AEGIS_IMAGE_TAG=1.2.0',
  '',
  '# --- PostgreSQL ---',
  'POSTGRES_USER=aegis',
  'POSTGRES_PASSWORD="s3cret pass"',
  '#AEGIS_SEAL_PRIVATE_KEY=',
  'LLM_API_KEY=',
  'OPENBAO_ROLE_ID=role-7f3a',
  'OPENBAO_SECRET_ID=secret-9c1d',
  'PODMAN_LOG_ROOT=${HOME}/.local/share/containers/storage/overlay-containers',
  '',
].join('\n');

describe('parseEnvFile', () => {
  it('reads assignments and ignores comments and blank lines', () => {
    const values = parseEnvFile(DEPLOY_ENV);

    expect(values.get('GHCR_USERNAME')).toBe('operator');
    expect(values.get(IMAGE_TAG_KEY)).toBe('1.2.0');
    expect(values.has('AEGIS_SEAL_PRIVATE_KEY')).toBe(false);
    expect(values.get('LLM_API_KEY')).toBe('');
    expect([...values.keys()].some((key) => key.startsWith('#'))).toBe(false);
  });

  it('cuts an unquoted value at an inline comment, as the shell sourcing .env does', () => {
    const values = parseEnvFile(`GHCR_TOKEN=abc # rotated monthly\nQUOTED="a # b"\nHASH=a#b\n`);

    expect(values.get('GHCR_TOKEN')).toBe('abc');
    expect(values.get('QUOTED')).toBe('a # b');
    expect(values.get('HASH')).toBe('a#b');
  });

  it('removes matching double or single quotes around a value', () => {
    const values = parseEnvFile(`A="two words"\nB='single'\nC="unbalanced'\n`);

    expect(values.get('A')).toBe('two words');
    expect(values.get('B')).toBe('single');
    expect(values.get('C')).toBe(`"unbalanced'`);
  });

  it('reads `export KEY=value` lines under their key', () => {
    const values = parseEnvFile('export AEGIS_IMAGE_TAG=1.3.0\n  export GHCR_TOKEN="tok"\n');

    expect(values.get('AEGIS_IMAGE_TAG')).toBe('1.3.0');
    expect(values.get('GHCR_TOKEN')).toBe('tok');
  });

  it('keeps `=` inside a value and trims the spaces around it', () => {
    const values = parseEnvFile('RUST_LOG=info,aegis_orchestrator=debug\nPADDED=  value  \n');

    expect(values.get('RUST_LOG')).toBe('info,aegis_orchestrator=debug');
    expect(values.get('PADDED')).toBe('value');
  });
});

describe('setEnvValue', () => {
  it('replaces only the AEGIS_IMAGE_TAG line and keeps every other line, comment and blank line', () => {
    const updated = setEnvValue(DEPLOY_ENV, IMAGE_TAG_KEY, '1.3.0');

    const before = DEPLOY_ENV.split('\n');
    const after = updated.split('\n');
    expect(after).toHaveLength(before.length);
    after.forEach((line, index) => {
      expect(line).toBe(before[index] === 'AEGIS_IMAGE_TAG=1.2.0' ? 'AEGIS_IMAGE_TAG=1.3.0' : before[index]);
    });
  });

  it('keeps the final newline when the file has one', () => {
    expect(setEnvValue('A=1\nAEGIS_IMAGE_TAG=1.2.0\n', IMAGE_TAG_KEY, '1.3.0')).toBe('A=1\nAEGIS_IMAGE_TAG=1.3.0\n');
  });

  it('adds no final newline when the file has none', () => {
    expect(setEnvValue('AEGIS_IMAGE_TAG=1.2.0\nA=1', IMAGE_TAG_KEY, '1.3.0')).toBe('AEGIS_IMAGE_TAG=1.3.0\nA=1');
  });

  it('leaves a commented-out tag and keys that only start with the same name alone', () => {
    const text = '# AEGIS_IMAGE_TAG=0.9.0\nAEGIS_IMAGE_TAG_PREVIOUS=1.1.0\nAEGIS_IMAGE_TAG=1.2.0\n';

    expect(setEnvValue(text, IMAGE_TAG_KEY, '1.3.0')).toBe(
      '# AEGIS_IMAGE_TAG=0.9.0\nAEGIS_IMAGE_TAG_PREVIOUS=1.1.0\nAEGIS_IMAGE_TAG=1.3.0\n',
    );
  });

  it('appends the key after a final newline when it is missing', () => {
    expect(setEnvValue('A=1\n', IMAGE_TAG_KEY, '1.3.0')).toBe('A=1\nAEGIS_IMAGE_TAG=1.3.0\n');
  });

  it('appends the key on a line of its own when the file has no final newline', () => {
    expect(setEnvValue('A=1', IMAGE_TAG_KEY, '1.3.0')).toBe('A=1\nAEGIS_IMAGE_TAG=1.3.0\n');
  });

  it('writes the key alone into an empty file', () => {
    expect(setEnvValue('', IMAGE_TAG_KEY, '1.3.0')).toBe('AEGIS_IMAGE_TAG=1.3.0\n');
  });
});

describe('a multi-line value', () => {
  const PEM = ['-----BEGIN PRIVATE KEY-----', 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC', '-----END PRIVATE KEY-----'];
  const ENV = [
    'GHCR_USERNAME=operator',
    `AEGIS_SEAL_PRIVATE_KEY="${PEM.join('\n')}"`,
    'AEGIS_IMAGE_TAG=1.2.0',
    '',
  ].join('\n');

  it('is read whole, to its closing quote, as the shell sourcing .env reads it', () => {
    const values = parseEnvFile(ENV);

    expect(values.get('AEGIS_SEAL_PRIVATE_KEY')).toBe(PEM.join('\n'));
    expect(values.get('AEGIS_IMAGE_TAG')).toBe('1.2.0');
  });

  it('is hidden whole and line by line', () => {
    expect(secretValues(parseEnvFile(ENV))).toEqual([PEM.join('\n'), ...PEM]);
  });

  it('stays one line when its quote is never closed', () => {
    const values = parseEnvFile(`A="open\nB=2\n`);

    expect(values.get('A')).toBe('"open');
    expect(values.get('B')).toBe('2');
  });
});

describe('secretValues', () => {
  it('returns the values of tokens, passwords, API keys and OpenBao credentials', () => {
    const secrets = secretValues(parseEnvFile(DEPLOY_ENV));

    expect(secrets).toEqual(
      expect.arrayContaining(['ghp_0123456789abcdef', 's3cret pass', 'role-7f3a', 'secret-9c1d']),
    );
    expect(secrets).toHaveLength(4);
  });

  it('leaves out the image tag, the user names and empty secrets', () => {
    const secrets = secretValues(parseEnvFile(DEPLOY_ENV));

    expect(secrets).not.toContain('1.2.0');
    expect(secrets).not.toContain('operator');
    expect(secrets).not.toContain('aegis');
    expect(secrets).not.toContain('');
  });

  it('treats a private key as a secret', () => {
    const pem = '-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBg\\n-----END PRIVATE KEY-----\\n';

    expect(secretValues(parseEnvFile(`AEGIS_SEAL_PRIVATE_KEY="${pem}"\n`))).toEqual([pem]);
  });
});

describe('writeFileAtomic', () => {
  let dir: string;
  let umask: number;

  beforeAll(() => {
    // A service's usual umask: the mode kept must not depend on it.
    umask = process.umask(0o022);
  });
  afterAll(() => {
    process.umask(umask);
  });
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-env-file-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('replaces the content and leaves no temporary file beside it', async () => {
    const file = path.join(dir, '.env');
    await fs.writeFile(file, 'AEGIS_IMAGE_TAG=1.2.0\n');

    await writeFileAtomic(file, 'AEGIS_IMAGE_TAG=1.3.0\n');

    expect(await fs.readFile(file, 'utf8')).toBe('AEGIS_IMAGE_TAG=1.3.0\n');
    expect(await fs.readdir(dir)).toEqual(['.env']);
  });

  it('keeps the mode of a file only its owner may read', async () => {
    const file = path.join(dir, '.env');
    await fs.writeFile(file, 'GHCR_TOKEN=tok\n');
    await fs.chmod(file, 0o600);

    await writeFileAtomic(file, 'GHCR_TOKEN=tok\nAEGIS_IMAGE_TAG=1.3.0\n');

    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
  });

  it('keeps the mode of a group-writable file whatever the umask', async () => {
    const file = path.join(dir, '.env');
    await fs.writeFile(file, 'AEGIS_IMAGE_TAG=1.2.0\n');
    await fs.chmod(file, 0o664);

    await writeFileAtomic(file, 'AEGIS_IMAGE_TAG=1.3.0\n');

    expect(((await fs.stat(file)).mode & 0o777).toString(8)).toBe('664');
  });

  it('never lets anyone but the owner read the new content, not even before the mode is set', async () => {
    const file = path.join(dir, '.env');
    await fs.writeFile(file, 'GHCR_TOKEN=tok\n');
    await fs.chmod(file, 0o600);
    // The temporary file's mode at each step after its creation: the chmod, then the rename.
    const seen: string[] = [];
    const look = async (target: unknown) => seen.push(((await fs.stat(String(target))).mode & 0o777).toString(8));
    const chmod = fs.chmod;
    const rename = fs.rename;
    const chmodSpy = jest.spyOn(fs, 'chmod').mockImplementation(async (target, mode) => {
      await look(target);
      return chmod(target, mode);
    });
    const renameSpy = jest.spyOn(fs, 'rename').mockImplementation(async (from, to) => {
      await look(from);
      return rename(from, to);
    });
    try {
      await writeFileAtomic(file, 'GHCR_TOKEN=new-token\n');
    } finally {
      chmodSpy.mockRestore();
      renameSpy.mockRestore();
    }

    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((mode) => mode === '600')).toBe(true);
  });

  it('creates a missing file readable by its owner only', async () => {
    const file = path.join(dir, '.env');

    await writeFileAtomic(file, 'A=1\n');

    expect(await fs.readFile(file, 'utf8')).toBe('A=1\n');
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
  });
});

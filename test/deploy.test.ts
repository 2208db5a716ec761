import { execa } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import { loadConfig } from '../src/config';
import { parseEnvFile } from '../src/host/env-file';
import { MissingDependency, REPO_ROOT } from './helpers/repo';

const DEPLOY = path.join(REPO_ROOT, 'deploy');
const UNIT = path.join(DEPLOY, 'aegis-upgrade-worker.service');
const ENV_EXAMPLE = path.join(DEPLOY, 'worker.env.example');

/** A unit file's settings, section by section, each key with every value it is given (systemd.syntax(7)). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let section: Map<string, string[]> | undefined;
  for (const line of text.split('\n').map((each) => each.trim())) {
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    if (line.startsWith('[') && line.endsWith(']')) {
      section = new Map();
      sections.set(line.slice(1, -1), section);
      continue;
    }
    const equals = line.indexOf('=');
    if (!section || equals < 0) throw new Error(`Not a unit file line: ${line}`);
    const key = line.slice(0, equals).trim();
    section.set(key, [...(section.get(key) ?? []), line.slice(equals + 1).trim()]);
  }
  return sections;
}

const unitText = fs.readFileSync(UNIT, 'utf8');
const service = parseUnit(unitText).get('Service') ?? new Map<string, string[]>();
const one = (key: string) => service.get(key)?.at(-1);
const example = parseEnvFile(fs.readFileSync(ENV_EXAMPLE, 'utf8'));

async function systemdAnalyze(): Promise<string> {
  const found = await execa('bash', ['-c', 'command -v systemd-analyze'], { reject: false });
  if (found.exitCode !== 0) {
    throw new MissingDependency('systemd-analyze is missing', 'Run `npm run bootstrap` (Debian package systemd)');
  }
  return found.stdout.trim();
}

describe('the systemd unit', () => {
  // This machine has no installed worker, and verify checks that ExecStart's program exists: the copy verified runs an
  // executable that does (node), with the same arguments; every other line is the shipped unit's.
  test.each(fs.readdirSync(DEPLOY).filter((name) => name.endsWith('.service')))(
    '%s passes `systemd-analyze verify` without a warning',
    async (name) => {
      const shipped = fs.readFileSync(path.join(DEPLOY, name), 'utf8');
      const [program, ...args] = (parseUnit(shipped).get('Service')?.get('ExecStart')?.at(-1) ?? '').split(' ');
      expect(path.isAbsolute(program ?? '')).toBe(true);
      const lines = shipped.split('\n');
      const verified = lines.map((line) =>
        line === `ExecStart=${program} ${args.join(' ')}` ? `ExecStart=${process.execPath} ${args.join(' ')}` : line,
      );
      expect(verified.filter((line, index) => line !== lines[index])).toEqual([
        `ExecStart=${process.execPath} ${args.join(' ')}`,
      ]);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aegis-upgrade-unit-'));
      try {
        fs.writeFileSync(path.join(dir, name), verified.join('\n'));
        const verify = await execa(await systemdAnalyze(), ['verify', path.join(dir, name)], { reject: false });
        expect({ exitCode: verify.exitCode, stdout: verify.stdout, stderr: verify.stderr }).toEqual({
          exitCode: 0,
          stdout: '',
          stderr: '',
        });
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  test('runs the worker as the platform user, with its runtime directory, and no PATH lookup', () => {
    expect(one('ExecStart')).toBe('/usr/local/bin/aegis-upgrade worker');
    expect(one('User')).not.toBe('root');
    const [variable, runtimeDir] = (one('Environment') ?? '').split('=');
    expect(variable).toBe('XDG_RUNTIME_DIR');
    const uid = path.basename(runtimeDir ?? '');
    expect(runtimeDir).toBe(`/run/user/${uid}`);
    expect(parseUnit(unitText).get('Unit')?.get('After')).toContain(`user@${uid}.service`);
  });

  test('is confined: read-only but the checkout, its backups and the podman state, private /tmp, umask 0077', () => {
    expect({
      ProtectSystem: one('ProtectSystem'),
      ProtectHome: one('ProtectHome'),
      PrivateTmp: one('PrivateTmp'),
      UMask: one('UMask'),
    }).toEqual({ ProtectSystem: 'strict', ProtectHome: 'read-only', PrivateTmp: 'yes', UMask: '0077' });
    const { root, backupDir } = loadConfig({ AEGIS_ROOT: example.get('AEGIS_ROOT') }).aegis;
    // The checkout is ~/100monkeys/aegis-deploy of the platform's user, where its setup puts it.
    const home = path.dirname(path.dirname(root));
    const runtimeDir = one('Environment')?.split('=')[1];
    expect(service.get('ReadWritePaths')).toEqual([root, path.join(home, '.local/share/containers'), runtimeDir]);
    expect(backupDir.startsWith(`${root}/`)).toBe(true);
  });

  test('keeps NoNewPrivileges off, and every setting that would turn it on (podman runs the setuid newuidmap)', () => {
    expect(one('NoNewPrivileges')).toBe('no');
    // systemd.exec(5), NoNewPrivileges=: these imply it for a service that runs as a user other than root.
    const implying = [
      'SystemCallFilter',
      'SystemCallArchitectures',
      'RestrictAddressFamilies',
      'RestrictNamespaces',
      'PrivateDevices',
      'ProtectKernelTunables',
      'ProtectKernelModules',
      'ProtectKernelLogs',
      'ProtectClock',
      'MemoryDenyWriteExecute',
      'RestrictRealtime',
      'RestrictSUIDSGID',
      'DynamicUser',
      'LockPersonality',
    ];
    expect(implying.filter((key) => service.has(key))).toEqual([]);
  });
});

/** Every AEGIS_* and TEMPORAL_* name written in src/config's code (not its comments): what the worker reads. */
function variablesRead(): string[] {
  const dir = path.join(REPO_ROOT, 'src', 'config');
  const names = new Set<string>();
  for (const file of fs.readdirSync(dir).filter((name) => name.endsWith('.ts'))) {
    const source = ts.createSourceFile(file, fs.readFileSync(path.join(dir, file), 'utf8'), ts.ScriptTarget.Latest);
    const visit = (node: ts.Node) => {
      if (ts.isStringLiteral(node) && /^(AEGIS|TEMPORAL)_[A-Z0-9_]*[A-Z0-9]$/.test(node.text)) names.add(node.text);
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return [...names].sort();
}

describe('worker.env.example', () => {
  test('names every variable the worker reads, set or commented out', () => {
    const read = variablesRead();
    expect(read).toEqual(expect.arrayContaining(['AEGIS_ROOT', 'AEGIS_PROFILE', 'TEMPORAL_ADDRESS']));
    const named = parseEnvFile(
      fs
        .readFileSync(ENV_EXAMPLE, 'utf8')
        .split('\n')
        .map((line) => (line.startsWith('#') ? line.slice(1) : line))
        .join('\n'),
    );
    expect(read.filter((name) => !named.has(name))).toEqual([]);
  });

  test('is a configuration the worker accepts', () => {
    expect(loadConfig(Object.fromEntries(example)).aegis.profile).toBe('development');
  });
});

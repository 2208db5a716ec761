import { KNOWN_NOISE, parseValidateOutput, validationFailures } from '../../src/activities/validation';

const GREEN = '\x1b[0;32m';
const RED = '\x1b[0;31m';
const NC = '\x1b[0m';
const ok = (name: string) => `  ${GREEN}✓${NC} ${name}`;
const ko = (name: string, url: string) => `  ${RED}✗${NC} ${name} (${url})`;

/** `make validate` (aegis-deploy's scripts/validate-stack.sh) on a healthy platform: the noise is still ✗. */
const VALIDATE_OUTPUT = [
  'Validating AEGIS platform services...',
  '',
  'Database:',
  ko('PostgreSQL', 'localhost:5432'),
  'Core:',
  ok('AEGIS Runtime'),
  'Temporal:',
  ko('Temporal Server', 'http://localhost:7233'),
  ok('Temporal UI'),
  'Gateways:',
  ok('SEAL Gateway'),
  'IAM & Secrets:',
  ok('Keycloak'),
  ok('OpenBao'),
  'Observability:',
  ok('Jaeger UI'),
  ok('Prometheus'),
  '',
  "Run 'make status' for pod-level status.",
].join('\n');

describe('parseValidateOutput', () => {
  it('reads one entry per ✓/✗ line and skips the header, section and footer lines', () => {
    const lines = parseValidateOutput(VALIDATE_OUTPUT);

    expect(lines.map((line) => line.service)).toEqual([
      'PostgreSQL',
      'AEGIS Runtime',
      'Temporal Server',
      'Temporal UI',
      'SEAL Gateway',
      'Keycloak',
      'OpenBao',
      'Jaeger UI',
      'Prometheus',
    ]);
  });

  it('reads ✓ as ok and ✗ as not ok, through the colour codes', () => {
    const lines = parseValidateOutput(VALIDATE_OUTPUT);

    expect(lines.find((line) => line.service === 'AEGIS Runtime')).toEqual({
      ok: true,
      service: 'AEGIS Runtime',
      detail: '',
    });
    expect(lines.find((line) => line.service === 'PostgreSQL')).toEqual({
      ok: false,
      service: 'PostgreSQL',
      detail: 'localhost:5432',
    });
  });

  it('keeps the probed URL of a ✗ line as its detail', () => {
    const [line] = parseValidateOutput(ko('SEAL Gateway', 'http://localhost:8089'));

    expect(line).toEqual({ ok: false, service: 'SEAL Gateway', detail: 'http://localhost:8089' });
  });

  it('finds no line in output without ✓ or ✗', () => {
    expect(parseValidateOutput('make: *** No rule to make target `validate`.  Stop.\n')).toEqual([]);
  });
});

describe('validationFailures', () => {
  it('ignores the expected ✗ of PostgreSQL and Temporal Server', () => {
    expect(KNOWN_NOISE).toEqual(['PostgreSQL', 'Temporal Server']);
    expect(validationFailures(parseValidateOutput(VALIDATE_OUTPUT))).toEqual([]);
  });

  it('reports every other ✗ line', () => {
    const output = [VALIDATE_OUTPUT, ko('AEGIS Runtime', 'http://localhost:8088/health'), ko('Temporal UI', 'x')].join(
      '\n',
    );

    expect(validationFailures(parseValidateOutput(output))).toEqual([
      { ok: false, service: 'AEGIS Runtime', detail: 'http://localhost:8088/health' },
      { ok: false, service: 'Temporal UI', detail: 'x' },
    ]);
  });
});

import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { exportedName, SdkMetric, UpgradeMetric } from '../src/core/metrics';
import { REPO_ROOT } from './helpers/repo';

const ALERTS = path.join(REPO_ROOT, 'deploy', 'aegis-upgrade.alerts.yml');

interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** What the worker exports (test/worker/telemetry.int.test.ts finds each on its page), and `up`, Prometheus' own. */
const EXPORTED = new Set([...Object.values(UpgradeMetric).map(exportedName), ...Object.values(SdkMetric), 'up']);

const KEYWORDS = new Set(['and', 'or', 'unless', 'offset', 'bool']);
/** Aggregations may come before their `by (…)`, apart from their parenthesis. */
const AGGREGATIONS = new Set([
  'sum',
  'min',
  'max',
  'avg',
  'group',
  'stddev',
  'stdvar',
  'count',
  'count_values',
  'bottomk',
  'topk',
  'quantile',
]);
/** Followed by a list of label names in parentheses. */
const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);

/**
 * The metric names a PromQL expression selects: its identifiers outside strings, label matchers (`{…}`) and ranges
 * (`[…]`), other than functions (followed by `(`), keywords, grouping labels and numbers.
 */
function selectedMetrics(expr: string): string[] {
  const names: string[] = [];
  let depth = { brace: 0, bracket: 0 };
  for (let at = 0; at < expr.length;) {
    const char = expr[at] as string;
    if (char === '"' || char === "'") {
      const end = expr.indexOf(char, at + 1);
      if (end < 0) throw new Error(`Unterminated string in \`${expr}\``);
      at = end + 1;
      continue;
    }
    if ('{}[]'.includes(char)) {
      depth = {
        brace: depth.brace + (char === '{' ? 1 : char === '}' ? -1 : 0),
        bracket: depth.bracket + (char === '[' ? 1 : char === ']' ? -1 : 0),
      };
      at++;
      continue;
    }
    const isWordChar = (c: string | undefined) => c !== undefined && /[A-Za-z0-9_:]/.test(c);
    if (!isWordChar(char)) {
      at++;
      continue;
    }
    let end = at;
    while (isWordChar(expr[end])) end++;
    const word = expr.slice(at, end);
    const next = expr.slice(end).trimStart()[0];
    if (GROUPING.has(word)) {
      at = next === '(' ? expr.indexOf(')', end) + 1 : end;
      continue;
    }
    const isMetric =
      depth.brace === 0 &&
      depth.bracket === 0 &&
      !/^[0-9]/.test(word) &&
      !KEYWORDS.has(word) &&
      !AGGREGATIONS.has(word) &&
      next !== '(';
    if (isMetric) names.push(word);
    at = end;
  }
  return names;
}

describe('deploy/aegis-upgrade.alerts.yml', () => {
  const document = parse(fs.readFileSync(ALERTS, 'utf8')) as { groups: { name: string; rules: AlertRule[] }[] };
  const rules = document.groups.flatMap((group) => group.rules);
  const rule = (name: string) => {
    const found = rules.find((each) => each.alert === name);
    if (!found) throw new Error(`No alert ${name} in ${ALERTS}`);
    return found;
  };

  test('holds the four alerts: a rollback, a failed rollback, an approval waiting for hours, no worker', () => {
    expect(rules.map((each) => each.alert)).toEqual([
      'AegisUpgradeRolledBack',
      'AegisUpgradeRollbackFailed',
      'AegisUpgradeApprovalWaiting',
      'AegisUpgradeNoWorker',
    ]);
    for (const each of rules) {
      expect(each.labels?.severity).toMatch(/^(warning|critical)$/);
      expect(each.annotations?.summary).toEqual(expect.any(String));
    }
  });

  test('each expression selects only metrics the worker exports, under their names on its page', () => {
    for (const each of rules) {
      const selected = selectedMetrics(each.expr);
      expect({ alert: each.alert, unknown: selected.filter((name) => !EXPORTED.has(name)) }).toEqual({
        alert: each.alert,
        unknown: [],
      });
      expect({ alert: each.alert, selected: selected.length > 0 }).toEqual({ alert: each.alert, selected: true });
    }
  });

  test('each alert reads the metric that says it', () => {
    const ended = exportedName(UpgradeMetric.ended);
    expect(selectedMetrics(rule('AegisUpgradeRolledBack').expr)).toContain(ended);
    expect(rule('AegisUpgradeRolledBack').expr).toContain('outcome="rolled-back"');
    expect(rule('AegisUpgradeRollbackFailed').expr).toContain('outcome="rollback-failed"');
    expect(selectedMetrics(rule('AegisUpgradeApprovalWaiting').expr)).toEqual([exportedName(UpgradeMetric.inProgress)]);
    expect(rule('AegisUpgradeApprovalWaiting').expr).toContain('phase="waiting-for-approval"');
    expect(rule('AegisUpgradeApprovalWaiting').for).toBe('4h');
    expect(selectedMetrics(rule('AegisUpgradeNoWorker').expr)).toEqual(['up', SdkMetric.pollers]);
  });

  test('the expression reader finds metric names, not functions, labels, strings or ranges', () => {
    expect(
      selectedMetrics('increase(a_total{outcome="b c",x=~"d"}[15m]) > 0 or (a_total unless a_total offset 15m)'),
    ).toEqual(['a_total', 'a_total', 'a_total']);
    expect(selectedMetrics('sum by (step) (rate(x_bucket[5m]))')).toEqual(['x_bucket']);
  });
});

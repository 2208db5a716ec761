/** One sample of a Prometheus text page: `name{label="value",…} value`. */
export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * The samples of a Prometheus text page (the text exposition format, version 0.0.4), comments left out. Throws on a
 * line it cannot read, so a test never reads a page it misunderstood.
 */
export function metricSamples(page: string): MetricSample[] {
  return page
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'))
    .map(parseSampleLine);
}

function parseSampleLine(line: string): MetricSample {
  const fail = (why: string) => new Error(`Cannot read the metrics line \`${line}\`: ${why}`);
  const nameEnd = [...line].findIndex((char) => char === '{' || char === ' ');
  if (nameEnd <= 0) throw fail('no name');
  const name = line.slice(0, nameEnd);
  const labels: Record<string, string> = {};
  let at = nameEnd;
  if (line[at] === '{') {
    at++;
    while (line[at] !== '}') {
      const equals = line.indexOf('="', at);
      if (equals < 0) throw fail(`no value for the label at ${at}`);
      const key = line.slice(at, equals);
      let value = '';
      at = equals + 2;
      for (; line[at] !== '"'; at++) {
        if (at >= line.length) throw fail(`the value of ${key} does not end`);
        if (line[at] === '\\') {
          at++;
          value += line[at] === 'n' ? '\n' : line[at];
        } else value += line[at];
      }
      labels[key] = value;
      at++;
      if (line[at] === ',') at++;
    }
    at++;
  }
  const [valueText] = line.slice(at).trim().split(' ');
  const value = Number(valueText === '+Inf' ? Infinity : valueText === '-Inf' ? -Infinity : valueText);
  if (valueText === undefined || (Number.isNaN(value) && valueText !== 'NaN')) throw fail('no value');
  return { name, labels, value };
}

/** The value of the sample of `name` whose labels include `labels`, from a Prometheus text page. */
export function metricSample(page: string, name: string, labels: Record<string, string>): number | undefined {
  return metricSamples(page).find(
    (sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  )?.value;
}

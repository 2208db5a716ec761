/** The value of the sample of `name` whose labels include `labels`, from a Prometheus text page. */
export function metricSample(page: string, name: string, labels: Record<string, string>): number | undefined {
  const line = page
    .split('\n')
    .find(
      (candidate) =>
        candidate.startsWith(`${name}{`) &&
        Object.entries(labels).every(([key, value]) => candidate.includes(`${key}="${value}"`)),
    );
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

import { readCpuSeconds, readRssMiB } from '../../bench/proc';

describe('/proc readers', () => {
  test("a process's RSS, as Node measures it too", () => {
    const rssMiB = readRssMiB(process.pid);
    const nodeRssMiB = process.memoryUsage().rss / 2 ** 20;
    expect(Math.abs(rssMiB - nodeRssMiB)).toBeLessThan(nodeRssMiB * 0.2);
  });

  test("a process's CPU time, as Node measures it too (at /proc's 10 ms resolution)", () => {
    const { user, system } = process.cpuUsage();
    const cpuSeconds = readCpuSeconds(process.pid);
    expect(Math.abs(cpuSeconds - (user + system) / 1e6)).toBeLessThan(0.25);
    expect(cpuSeconds).toBeGreaterThan(0);
  });

  test('a process that is gone is named', () => {
    expect(() => readRssMiB(2 ** 22 + 1)).toThrow(/Cannot read \/proc\/4194305\/status/);
  });
});

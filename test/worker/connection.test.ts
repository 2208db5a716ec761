import { DefaultLogger, type LogEntry } from '@temporalio/worker';
import { loadTemporalConfig } from '../../src/config';
import { connectWithRetry } from '../../src/worker/connection';
import { freePort } from '../helpers/temporal-server';

/** Ends the retries: thrown by the sleep after the attempts a test wants. */
class Enough extends Error {}

/** The worker started while its server is down: a real connection refused on a free port, attempt after attempt. */
describe('connectWithRetry', () => {
  test('tries again while the server refuses, one WARN line per attempt, waiting 1, 2, 4, 8, then 10 s', async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const lines: LogEntry[] = [];
    const waits: number[] = [];
    const sleep = async (ms: number) => {
      waits.push(ms);
      if (waits.length === 6) throw new Enough();
    };
    const temporal = loadTemporalConfig({ TEMPORAL_ADDRESS: address });
    const thrown: unknown = await connectWithRetry(
      temporal,
      new DefaultLogger('TRACE', (entry) => lines.push(entry)),
      sleep,
    ).catch((error: unknown) => error);
    expect(thrown).toBeInstanceOf(Enough);
    expect(waits).toEqual([1_000, 2_000, 4_000, 8_000, 10_000, 10_000]);
    expect(lines.map(({ level }) => level)).toEqual(Array(6).fill('WARN'));
    lines.forEach(({ message }, index) => {
      expect(message).toMatch(
        new RegExp(
          `^aegis-upgrade worker: Cannot reach the Temporal server at ${address} \\(TEMPORAL_ADDRESS, no TLS\\): ` +
            `.*Connection refused.*; attempt ${index + 1}, trying again in ${waits[index]! / 1000} s$`,
        ),
      );
      expect(message).not.toContain('\n');
    });
  });
});

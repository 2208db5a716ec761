import { Context } from '@temporalio/activity';
import { heartbeatWhile } from '../../src/host/heartbeat';
import { activityEnvironment } from '../helpers/activity-environment';

/** Waits until `count` heartbeats came, or fails once `ms` passed without them. */
function heartbeatsSeen(seen: unknown[], count: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const look = setInterval(() => {
      if (seen.length >= count) resolve();
      else if (Date.now() > deadline) reject(new Error(`${seen.length} heartbeat(s) in ${ms} ms, not ${count}`));
      else return;
      clearInterval(look);
    }, 50);
  });
}

describe("the worker's heartbeats (src/worker/heartbeats.ts)", () => {
  it('an activity with a heartbeat timeout heartbeats while it runs, though its code never does', async () => {
    const environment = activityEnvironment({ heartbeatTimeoutMs: 10_000 });
    const seen: unknown[] = [];
    environment.on('heartbeat', (detail: unknown) => seen.push(detail));
    // A long command that says nothing: its activity ends once three heartbeats were sent for it (about 4 s).
    await environment.run(() => heartbeatsSeen(seen, 3, 8_000));
    expect(seen).toEqual([undefined, undefined, undefined]);
  }, 10_000);

  it('each heartbeat repeats what the activity said last, until the work it said it of ends', async () => {
    const environment = activityEnvironment({ heartbeatTimeoutMs: 10_000 });
    const seen: unknown[] = [];
    environment.on('heartbeat', (detail: unknown) => seen.push(detail));
    await environment.run(async () => {
      await heartbeatWhile(heartbeatsSeen(seen, 3, 8_000), 'make redeploy POD=core');
      await heartbeatsSeen(seen, 4, 8_000);
    });
    // The first as the activity starts, then heartbeatWhile's own, then the worker's repeating it; then nothing said.
    expect(seen).toEqual([undefined, 'make redeploy POD=core', 'make redeploy POD=core', undefined]);
  }, 20_000);

  it('an activity without a heartbeat timeout sends none it did not ask for', async () => {
    const environment = activityEnvironment();
    const seen: unknown[] = [];
    environment.on('heartbeat', (detail: unknown) => seen.push(detail));
    await environment.run(async () => {
      await Context.current().sleep(2_500);
    });
    expect(seen).toEqual([]);
  }, 10_000);
});

import net from 'node:net';
import os from 'node:os';
import { sameTemporalServer } from '../../src/host/temporal-identity';
import { freePort, startDevServer, type DevServer } from '../helpers/temporal-server';

/** An IPv4 address of this machine other than loopback: how another host on the LAN reaches it. */
function lanAddress(): string {
  const found = Object.values(os.networkInterfaces())
    .flat()
    .find((entry) => entry?.family === 'IPv4' && !entry.internal)?.address;
  if (!found) throw new Error('This machine has no IPv4 address but loopback: the test needs one');
  return found;
}

describe('sameTemporalServer: what two addresses answer, not how they are written', () => {
  let own: DevServer;
  let other: DevServer;
  let port: string;

  beforeAll(async () => {
    // Published on every address of the host, as podman publishes a port without hostIP. In memory, dev servers start
    // with one and the same cluster ID: only the namespace's ID tells them apart.
    [own, other] = await Promise.all([
      startDevServer({ ip: '0.0.0.0', database: 'memory' }),
      startDevServer({ database: 'memory' }),
    ]);
    port = own.address.split(':')[1] ?? '';
  }, 120_000);

  afterAll(() => Promise.all([own?.stop(), other?.stop()]));

  test.each([['127.0.0.1'], ['127.0.1.1'], ['localhost'], ['the LAN address'], ['the host name']])(
    'the same server at %s is the same',
    async (name) => {
      const host = { 'the LAN address': lanAddress(), 'the host name': os.hostname() }[name] ?? name;
      const answer = await sameTemporalServer({ address: own.address }, `${host}:${port}`, 'default');
      expect(answer).toEqual({
        same: true,
        why: expect.stringContaining(`${host}:${port} answers as ${own.address} does`),
      });
    },
  );

  test('another dev server is another, though dev servers share their cluster ID', async () => {
    const answer = await sameTemporalServer({ address: own.address }, other.address, 'default');
    expect(answer.same).toBe(false);
    expect(answer.why).toMatch(
      /^127\.0\.0\.1:\d+ is cluster active (\S+), namespace default \S+; 127\.0\.0\.1:\d+ is cluster active \1, namespace default \S+$/,
    );
  });

  test('nothing listening, or something that is not Temporal, is another server', async () => {
    const closed = `127.0.0.1:${await freePort()}`;
    const silent = await sameTemporalServer({ address: own.address }, closed, 'default');
    expect(silent).toEqual({
      same: false,
      why: expect.stringContaining(`${closed} does not answer as a Temporal server (`),
    });

    // The sandbox's stand-in frontend: it accepts the connection and answers bytes that are not gRPC.
    const standIn = net.createServer((socket) => socket.end('not grpc\n'));
    await new Promise<void>((resolve) => standIn.listen(0, '127.0.0.1', resolve));
    try {
      const address = `127.0.0.1:${(standIn.address() as net.AddressInfo).port}`;
      const started = Date.now();
      const answer = await sameTemporalServer({ address: own.address }, address, 'default');
      expect(answer).toEqual({
        same: false,
        why: expect.stringContaining(`${address} does not answer as a Temporal server (`),
      });
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      standIn.close();
    }
  }, 40_000);
});

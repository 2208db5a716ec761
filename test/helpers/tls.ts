import { execa } from 'execa';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { MissingDependency } from './repo';

/** PEM files: a test CA, a server certificate it signs for 127.0.0.1, ::1 and localhost, and one per client. */
export interface Certificates {
  ca: string;
  server: { cert: string; key: string };
  clients: Record<string, { cert: string; key: string }>;
}

async function openssl(args: string[]): Promise<void> {
  const result = await execa('openssl', args, { reject: false, all: true });
  if (result.code === 'ENOENT') {
    throw new MissingDependency('openssl is not installed', 'Install it: `apt-get install openssl` on Debian');
  }
  if (result.failed) throw new Error(`\`openssl ${args.join(' ')}\` failed: ${result.all || result.message}`);
}

/** A new key and its certificate signed by the CA: for a server on the loopback addresses, or for a client. */
async function signed(dir: string, name: string, usage: 'serverAuth' | 'clientAuth') {
  const file = (suffix: string) => path.join(dir, `${name}.${suffix}`);
  const names = usage === 'serverAuth' ? 'subjectAltName = IP:127.0.0.1, IP:::1, DNS:localhost\n' : '';
  await fs.writeFile(file('ext'), `basicConstraints = critical, CA:FALSE\nextendedKeyUsage = ${usage}\n${names}`);
  await openssl([
    ...['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`],
    ...['-keyout', file('key'), '-out', file('csr')],
  ]);
  await openssl([
    ...['x509', '-req', '-days', '1', '-in', file('csr'), '-extfile', file('ext'), '-out', file('pem')],
    ...['-CA', path.join(dir, 'ca.pem'), '-CAkey', path.join(dir, 'ca.key'), '-CAcreateserial'],
  ]);
  return { cert: file('pem'), key: file('key') };
}

/** Makes the certificates with `openssl` in `dir`; a client certificate's CN is its name. */
export async function makeCertificates(dir: string, clientNames: string[]): Promise<Certificates> {
  const ca = path.join(dir, 'ca.pem');
  await openssl([
    ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=aegis-upgrade test CA'],
    ...['-keyout', path.join(dir, 'ca.key'), '-out', ca],
    ...['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
  ]);
  const clients: Certificates['clients'] = {};
  for (const name of clientNames) clients[name] = await signed(dir, name, 'clientAuth');
  return { ca, server: await signed(dir, 'server', 'serverAuth'), clients };
}

/** A TLS endpoint in front of a plaintext server, as a TLS-terminating load balancer is. */
export interface TlsProxy {
  /** host:port, `[::1]:port` for IPv6. */
  address: string;
  /** The CN of each client certificate it accepted, one per connection. */
  clients: string[];
  /** Why each refused handshake failed, as OpenSSL says it, e.g. `… peer did not return a certificate`. */
  refusals: string[];
  stop(): Promise<void>;
}

/**
 * Terminates TLS on `host`, requiring a client certificate signed by the CA (mTLS), and forwards to `target`.
 * It offers HTTP/2 by ALPN, as gRPC clients require.
 */
export async function startTlsProxy(host: string, target: string, certificates: Certificates): Promise<TlsProxy> {
  const [, targetHost = '', targetPort = ''] = /^\[?(.*?)\]?:(\d+)$/.exec(target) ?? [];
  const [ca, cert, key] = await Promise.all(
    [certificates.ca, certificates.server.cert, certificates.server.key].map((file) => fs.readFile(file)),
  );
  const clients: string[] = [];
  const refusals: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = tls.createServer(
    { ca, cert, key, requestCert: true, rejectUnauthorized: true, ALPNProtocols: ['h2'] },
    (socket) => {
      clients.push(String(socket.getPeerCertificate().subject.CN));
      const upstream = net.connect(Number(targetPort), targetHost);
      for (const end of [socket, upstream]) {
        sockets.add(end);
        end.on('error', () => end.destroy());
        end.on('close', () => {
          sockets.delete(end);
          socket.destroy();
          upstream.destroy();
        });
      }
      socket.pipe(upstream).pipe(socket);
    },
  );
  server.on('tlsClientError', (error) => refusals.push(error.message));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRNOTAVAIL'
          ? new MissingDependency(`Cannot listen on ${host}`, 'Enable the IPv6 loopback address ::1', { cause: error })
          : error,
      ),
    );
    server.listen(0, host, resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  return {
    address: net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`,
    clients,
    refusals,
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

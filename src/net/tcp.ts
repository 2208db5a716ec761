/** Whether something accepts TCP connections at an address: the one way to ask a service that has no health check. */
import net from 'node:net';

/** Words for the socket errors an operator meets, as the `temporal` CLI says them. */
const SOCKET_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'no such host',
  EHOSTUNREACH: 'no route to host',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
};

/** `host:port`, an IPv6 host in brackets (`[::1]:7233`). A wildcard host (`0.0.0.0`, `::`) reaches this host. */
export function hostAndPort(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon);
  return { host: host.startsWith('[') ? host.slice(1, -1) : host, port: Number(address.slice(colon + 1)) };
}

/**
 * Opens and closes a TCP connection to `address`: resolves once it is accepted, rejects with the socket error in an
 * operator's words (a refused one in milliseconds).
 */
export function tcpProbe(address: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ ...hostAndPort(address), timeout: timeoutMs });
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('timeout', () => {
      socket.destroy();
      reject(Object.assign(new Error(SOCKET_ERRORS.ETIMEDOUT), { code: 'ETIMEDOUT' }));
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      socket.destroy();
      reject(new Error(SOCKET_ERRORS[error.code ?? ''] ?? error.message, { cause: error }));
    });
  });
}

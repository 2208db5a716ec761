/** The CLI's connection to Temporal: refused at once when nothing listens, instead of at the SDK's deadline. */
import { Connection } from '@temporalio/client';
import net from 'node:net';
import { describeConnection, type TemporalConfig } from '../config';
import { TemporalUnreachable } from './errors';

/** How long the TCP look and the SDK's connection may each take (the SDK's own default). */
export const CONNECT_TIMEOUT_MS = 10_000;

/** Words for the socket errors an operator meets, as the `temporal` CLI says them. */
const SOCKET_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'no such host',
  EHOSTUNREACH: 'no route to host',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
};

/** `host:port` as validated by loadTemporalConfig, an IPv6 host in brackets. */
function hostAndPort(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon);
  return { host: host.startsWith('[') ? host.slice(1, -1) : host, port: Number(address.slice(colon + 1)) };
}

/**
 * Opens and closes a TCP connection to the server: a refused one fails here in milliseconds, where gRPC would retry
 * until its deadline and then say only "Failed to connect before the deadline".
 */
function probe(address: string, timeoutMs: number): Promise<void> {
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

/** gRPC goes through a proxy when one of these is set: then only the proxy can say whether the server answers. */
const PROXY_VARIABLES = ['grpc_proxy', 'https_proxy', 'http_proxy'];

export async function connectToTemporal(temporal: TemporalConfig, env = process.env): Promise<Connection> {
  const server = describeConnection(temporal);
  try {
    if (!PROXY_VARIABLES.some((name) => env[name])) await probe(temporal.connection.address, CONNECT_TIMEOUT_MS);
    return await Connection.connect({ ...temporal.connection, connectTimeout: CONNECT_TIMEOUT_MS });
  } catch (error) {
    throw new TemporalUnreachable(server, error);
  }
}

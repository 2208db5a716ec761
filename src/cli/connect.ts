/**
 * The CLI's connection to Temporal: refused at once when nothing listens (a TCP probe first), instead of at the SDK's
 * deadline, where gRPC would retry and then say only "Failed to connect before the deadline".
 */
import { Connection } from '@temporalio/client';
import { describeConnection, type TemporalConfig } from '../config';
import { tcpProbe } from '../net/tcp';
import { TemporalUnreachable } from './errors';

/** How long the TCP look and the SDK's connection may each take (the SDK's own default). */
export const CONNECT_TIMEOUT_MS = 10_000;

/** gRPC goes through a proxy when one of these is set: then only the proxy can say whether the server answers. */
const PROXY_VARIABLES = ['grpc_proxy', 'https_proxy', 'http_proxy'];

export async function connectToTemporal(temporal: TemporalConfig, env = process.env): Promise<Connection> {
  const server = describeConnection(temporal);
  try {
    if (!PROXY_VARIABLES.some((name) => env[name])) await tcpProbe(temporal.connection.address, CONNECT_TIMEOUT_MS);
    return await Connection.connect({ ...temporal.connection, connectTimeout: CONNECT_TIMEOUT_MS });
  } catch (error) {
    throw new TemporalUnreachable(server, error);
  }
}

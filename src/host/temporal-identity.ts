/**
 * Whether two addresses reach the same Temporal server, asked of the servers themselves: each answers with its cluster
 * ID and the ID it gave the namespace when it registered it. Two addresses of one host (127.0.0.1, 127.0.1.1, a LAN
 * address, the host's name) name the same server; two servers never share a namespace ID, not even dev servers, whose
 * cluster ID is fixed.
 */
import { Connection, type TLSConfig } from '@temporalio/client';
import type { TemporalConnectionOptions } from '../config/temporal';
import { PreflightFailed } from '../core/errors';
import { publishedPort, type PodDefinition } from './pod-definitions';

/** What a Temporal server says about itself. */
export interface TemporalIdentity {
  clusterId: string;
  clusterName: string;
  /** The namespace's ID on that server; undefined when the server has no such namespace. */
  namespaceId?: string;
}

/** How long the platform's Temporal gets to answer: it is asked once, not retried. */
const ASK_TIMEOUT_MS = 10_000;
/** gRPC's code for a namespace the server does not have. */
const NOT_FOUND = 5;

export async function temporalIdentity(
  options: TemporalConnectionOptions,
  namespace: string,
): Promise<TemporalIdentity> {
  const connection = await Connection.connect({ ...options, connectTimeout: ASK_TIMEOUT_MS, interceptors: [] });
  try {
    return await connection.withDeadline(Date.now() + ASK_TIMEOUT_MS, async () => {
      const cluster = await connection.workflowService.getClusterInfo({});
      const described = await connection.workflowService.describeNamespace({ namespace }).catch((error: unknown) => {
        if ((error as { code?: number }).code === NOT_FOUND) return undefined;
        throw error;
      });
      const namespaceId = described?.namespaceInfo?.id ?? undefined;
      return {
        clusterId: cluster.clusterId ?? '',
        clusterName: cluster.clusterName ?? '',
        ...(namespaceId ? { namespaceId } : {}),
      };
    });
  } finally {
    await connection.close();
  }
}

/** The answer, and why, in words for the pre-flight check's line. */
export interface SameServer {
  same: boolean;
  why: string;
}

/**
 * Whether `other` reaches the server `own` connects to. `other` is asked with `own`'s credentials and TLS, its
 * certificate checked against `own`'s host name: the same server presents the same certificate at either address.
 * An address that does not answer as a Temporal server is another server, since `own`'s answers.
 */
export async function sameTemporalServer(
  own: TemporalConnectionOptions,
  other: string,
  namespace: string,
): Promise<SameServer> {
  const ours = await temporalIdentity(own, namespace);
  if (!ours.namespaceId) throw new Error(`The Temporal server at ${own.address} has no namespace ${namespace}`);
  let theirs: TemporalIdentity;
  try {
    theirs = await temporalIdentity({ ...own, address: other, ...withServerName(own) }, namespace);
  } catch (error) {
    const reason = (error instanceof Error ? error.message : String(error)).split('\n', 1)[0];
    return { same: false, why: `${other} does not answer as a Temporal server (${reason})` };
  }
  const same = theirs.clusterId === ours.clusterId && theirs.namespaceId === ours.namespaceId;
  const cluster = (identity: TemporalIdentity) =>
    `cluster ${identity.clusterName} ${identity.clusterId}, namespace ${namespace} ${identity.namespaceId ?? '(none)'}`;
  return same
    ? { same, why: `${other} answers as ${own.address} does (${cluster(ours)})` }
    : { same, why: `${other} is ${cluster(theirs)}; ${own.address} is ${cluster(ours)}` };
}

/** `own`'s TLS with the name its certificate is checked against made explicit, so another address checks the same. */
function withServerName({ address, tls }: TemporalConnectionOptions): { tls?: TLSConfig | boolean } {
  if (!tls) return {};
  const host = address.slice(0, address.lastIndexOf(':')).replace(/^\[|\]$/g, '');
  const config = tls === true ? {} : tls;
  return { tls: { ...config, serverNameOverride: config.serverNameOverride ?? host } };
}

/** Temporal's frontend port inside pod temporal: the host port it is published on reaches the platform's Temporal. */
const TEMPORAL_FRONTEND_PORT = 7233;

/** The address the platform's Temporal answers at on this host: its published frontend port. */
export function platformTemporalAddress(definition: PodDefinition): string {
  const published = publishedPort(definition, TEMPORAL_FRONTEND_PORT);
  if (!published) {
    throw new PreflightFailed(
      `${definition.file} publishes no host port for Temporal's frontend (containerPort ${TEMPORAL_FRONTEND_PORT}): ` +
        "the worker cannot ask the platform's Temporal who it is, so cannot tell it from its own. Publish it (hostPort); nothing was changed",
    );
  }
  // A port published on every address answers on loopback too.
  const host = published.hostIP && !['0.0.0.0', '::'].includes(published.hostIP) ? published.hostIP : '127.0.0.1';
  return `${host.includes(':') ? `[${host}]` : host}:${published.hostPort}`;
}

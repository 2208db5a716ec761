/**
 * The containers that write to a database, read from the pods' definitions (docs/platform.md#who-writes-to-the-database):
 * every container given a PostgreSQL URL to the database over the network, to PostgreSQL or to the PgBouncer before it.
 * PgBouncer itself is none: it only carries their connections, and stays up for the runtime to reach PostgreSQL. A
 * container that reaches PostgreSQL on its pod's loopback, as the metrics exporter does, is no writer.
 */
import {
  containerEnvironments,
  podName,
  podsDefined,
  readPodDefinition,
  renderPodDefinition,
  type PodDefinition,
} from './pod-definitions';

/** A container that writes to one of the databases asked about, and why it counts. */
export interface DatabaseWriter {
  /** The pod's directory under `podman/pods` (`core`). */
  pod: string;
  /** The container's name as podman has it: `<pod name>-<container>` (`aegis-core-aegis-runtime`). */
  container: string;
  /** `AEGIS_DATABASE_URL names aegis on port 5433`. */
  why: string;
}

/** A pod's definition with the pod's directory name. */
export interface NamedPodDefinition {
  pod: string;
  definition: PodDefinition;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);
const POSTGRES_PORT = 5432;

/** A connection a container's environment gives it: `postgresql://…@host:port/database`, each of a comma list. */
interface Connection {
  variable: string;
  host: string;
  port: number;
  database: string;
}

/**
 * `postgresql://user:password@host:port/database?…` split by hand: a host left empty by an unset variable is still a
 * connection (WHATWG URL refuses it), and counts as one over the network.
 */
export function parseConnectionUrl(text: string): Omit<Connection, 'variable'> | undefined {
  const scheme = /^postgres(?:ql)?:\/\//.exec(text);
  if (!scheme) return undefined;
  const rest = text.slice(scheme[0].length);
  // The address follows the last `@` (a password may hold a `/`), up to the path.
  const at = rest.lastIndexOf('@');
  const slash = rest.indexOf('/', at + 1);
  const address = rest.slice(at + 1, slash < 0 ? undefined : slash);
  const bracketed = /^(\[[^\]]*\])(?::(\d*))?$/.exec(address);
  const colon = address.lastIndexOf(':');
  const [host, port] = bracketed
    ? [bracketed[1] ?? '', bracketed[2] ?? '']
    : colon < 0
      ? [address, '']
      : [address.slice(0, colon), address.slice(colon + 1)];
  const database = slash < 0 ? '' : (rest.slice(slash + 1).split('?', 1)[0] ?? '');
  return { host, port: Number(port || POSTGRES_PORT), database: decodeURIComponent(database) };
}

function connectionsOf(env: ReadonlyMap<string, string>, variables: ReadonlyMap<string, string>): Connection[] {
  return [...env].flatMap(([variable, template]) =>
    renderPodDefinition(template, variables)
      .split(',')
      .flatMap((text): Connection[] => {
        const connection = parseConnectionUrl(text.trim());
        return connection ? [{ variable, ...connection }] : [];
      }),
  );
}

const fullName = ({ pod, definition }: NamedPodDefinition, container: string) =>
  `${podName(definition) ?? `aegis-${pod}`}-${container}`;

/**
 * The writers of `databases` among the pods, rendered with `variables` (`.env`, as `make redeploy` renders them), in
 * the pods' order then the file's.
 */
export function databaseWriters(
  pods: readonly NamedPodDefinition[],
  variables: ReadonlyMap<string, string>,
  databases: readonly string[],
): DatabaseWriter[] {
  const writers: DatabaseWriter[] = [];
  for (const named of pods) {
    for (const { container, env } of containerEnvironments(named.definition)) {
      const remote = connectionsOf(env, variables).filter(
        ({ host, database }) => !LOOPBACK.has(host) && databases.includes(database),
      );
      const [first] = remote;
      if (!first) continue;
      writers.push({
        pod: named.pod,
        container: fullName(named, container),
        why: `${first.variable} names ${first.database} on port ${first.port}`,
      });
    }
  }
  return writers;
}

/** Every pod definition of the checkout, as written (unrendered). */
export async function readPodDefinitions(root: string): Promise<NamedPodDefinition[]> {
  const pods = await podsDefined(root);
  return Promise.all(pods.map(async (pod) => ({ pod, definition: await readPodDefinition(root, pod) })));
}

/** The writers of `databases` in the checkout at `root`, its definitions rendered with `variables`. */
export async function readDatabaseWriters(
  root: string,
  variables: ReadonlyMap<string, string>,
  databases: readonly string[],
): Promise<DatabaseWriter[]> {
  return databaseWriters(await readPodDefinitions(root), variables, databases);
}

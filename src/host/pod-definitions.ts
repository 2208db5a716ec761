/**
 * The pods' Kubernetes YAML (`podman/pods/<pod>/pod-<pod>.yaml`), read with a YAML parser: by what each key says, in
 * whatever order the file writes them, and edited one value at a time, every other byte of the file kept.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { isMap, isScalar, isSeq, parseDocument, stringify, type Document, type Scalar, type YAMLMap } from 'yaml';
import type { PodName } from '../core/platform';
import { podYamlPath } from './deployment';
import { IMAGE_TAG_KEY } from './env-file';
import { PreflightFailed } from '../core/errors';

/** `$NAME` or `${NAME}`: what `envsubst` replaces (it leaves `${NAME:-x}` and the like as they are). */
const VARIABLE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;

/**
 * A pod's YAML as `make redeploy` hands it to `podman play kube`: `envsubst` over the variables of `.env` (and the
 * environment make runs in), an unset one replaced by nothing.
 */
export function renderPodDefinition(template: string, variables: ReadonlyMap<string, string>): string {
  return template.replace(VARIABLE, (_, braced?: string, bare?: string) => variables.get(braced ?? bare ?? '') ?? '');
}

/** The variables `envsubst` sees under `make`: the worker's environment, with `.env` over it. */
export function makeVariables(deployEnv: ReadonlyMap<string, string>): Map<string, string> {
  const inherited = Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined);
  return new Map([...inherited, ...deployEnv]);
}

/**
 * The pods whose definition is the same rendered with `targetTag` as with `.env` as it is: redeploying them would
 * restart them on what they run now. A pod whose YAML cannot be read counts as changed (its redeploy says why).
 */
export async function podsUnchangedByTag(
  root: string,
  pods: readonly PodName[],
  deployEnv: ReadonlyMap<string, string>,
  targetTag: string,
): Promise<PodName[]> {
  const current = makeVariables(deployEnv);
  const target = new Map([...current, [IMAGE_TAG_KEY, targetTag]]);
  const unchanged = await Promise.all(
    pods.map(async (pod) => {
      const template = await fs.readFile(podYamlPath(root, pod), 'utf8').catch(() => undefined);
      return template !== undefined && renderPodDefinition(template, current) === renderPodDefinition(template, target);
    }),
  );
  return pods.filter((_, index) => unchanged[index]);
}

/** A pod's YAML, parsed. Its `${VAR}` placeholders parse as the text they are, unless it was rendered first. */
export interface PodDefinition {
  /** Where it was read, for messages. */
  file: string;
  text: string;
  document: Document.Parsed;
}

export function parsePodDefinition(text: string, file: string): PodDefinition {
  const document = parseDocument(text);
  const [error] = document.errors;
  if (error) {
    throw new PreflightFailed(
      `${file} is not valid YAML (${error.message.split('\n', 1)[0]}): fix it; \`make redeploy\` would refuse it too`,
    );
  }
  return { file, text, document };
}

/** The pod's YAML as the deploy checkout holds it; `variables` render it first, as `make redeploy` would. */
export async function readPodDefinition(
  root: string,
  pod: string,
  variables?: ReadonlyMap<string, string>,
): Promise<PodDefinition> {
  const file = podYamlPath(root, pod);
  const text = await fs.readFile(file, 'utf8');
  return parsePodDefinition(variables ? renderPodDefinition(text, variables) : text, file);
}

/** The maps of the sequence under `key` of `map`; a missing key, or anything else in the sequence, gives nothing. */
function mapsUnder(map: unknown, key: string): YAMLMap[] {
  const sequence = isMap(map) ? map.get(key, true) : undefined;
  return isSeq(sequence) ? sequence.items.filter((item): item is YAMLMap => isMap(item)) : [];
}

/** A scalar value of `map` as text (`hostPort: 7233` reads `7233`); a missing, null or non-scalar one, undefined. */
function textOf(map: YAMLMap, key: string): string | undefined {
  const node = map.get(key, true);
  return isScalar(node) && node.value !== null && typeof node.value !== 'object' ? String(node.value) : undefined;
}

const containersOf = ({ document }: PodDefinition) => mapsUnder(document.get('spec', true), 'containers');
const volumesOf = ({ document }: PodDefinition) => mapsUnder(document.get('spec', true), 'volumes');

/** An image reference split where its tag begins: `docker.io/library/postgres:15-alpine@sha256:…`. */
export function splitImage(reference: string): { name: string; tag?: string; digest?: string } {
  const at = reference.indexOf('@', reference.lastIndexOf('/'));
  const named = at < 0 ? reference : reference.slice(0, at);
  const digest = at < 0 ? undefined : reference.slice(at + 1);
  const colon = named.lastIndexOf(':');
  const split =
    colon > named.lastIndexOf('/') ? { name: named.slice(0, colon), tag: named.slice(colon + 1) } : { name: named };
  return digest === undefined ? split : { ...split, digest };
}

/** Whether an image name is `repository` on any registry: `docker.io/library/postgres` and `postgres` are `postgres`. */
export function namesRepository(name: string, repository: string): boolean {
  return name === repository || name.endsWith(`/${repository}`);
}

/** A container's `image`, split, with the node it was read from (to edit it). */
export interface ContainerImage {
  container: string;
  name: string;
  tag?: string;
  node: Scalar;
}

export function containerImages(definition: PodDefinition): ContainerImage[] {
  return containersOf(definition).flatMap((container) => {
    const node = container.get('image', true);
    if (!isScalar(node) || typeof node.value !== 'string') return [];
    return [{ container: textOf(container, 'name') ?? '(unnamed)', ...splitImage(node.value), node }];
  });
}

/** The host address a container port is published on (`ports: - containerPort, hostPort, hostIP, protocol`). */
export interface PublishedPort {
  hostPort: number;
  /** `hostIP`, when the port is published on one address only. */
  hostIP?: string;
}

/** Where the pod publishes TCP `containerPort` on the host, or undefined when it does not. */
export function publishedPort(definition: PodDefinition, containerPort: number): PublishedPort | undefined {
  for (const container of containersOf(definition)) {
    for (const port of mapsUnder(container, 'ports')) {
      if (Number(textOf(port, 'containerPort')) !== containerPort) continue;
      if ((textOf(port, 'protocol') ?? 'TCP').toUpperCase() !== 'TCP') continue;
      const hostPort = Number(textOf(port, 'hostPort'));
      if (!Number.isInteger(hostPort) || hostPort <= 0) continue;
      const hostIP = textOf(port, 'hostIP');
      return hostIP ? { hostPort, hostIP } : { hostPort };
    }
  }
  return undefined;
}

/** Every TCP port the pod publishes on the host. */
export function publishedHostPorts(definition: PodDefinition): number[] {
  return containersOf(definition).flatMap((container) =>
    mapsUnder(container, 'ports')
      .filter((port) => (textOf(port, 'protocol') ?? 'TCP').toUpperCase() === 'TCP')
      .map((port) => Number(textOf(port, 'hostPort')))
      .filter((hostPort) => Number.isInteger(hostPort) && hostPort > 0),
  );
}

/** The volume a container mounts at a path, by the kind of storage behind it. */
export type MountedVolume =
  | { kind: 'host-directory'; volume: string; path: string; node: Scalar }
  | { kind: 'named-volume'; volume: string; claimName: string }
  | { kind: 'other'; volume: string; source: string }
  | { kind: 'none' };

const samePath = (a: string, b: string) => path.posix.normalize(`${a}/`) === path.posix.normalize(`${b}/`);

export function mountedVolume(definition: PodDefinition, mountPath: string): MountedVolume {
  const mount = containersOf(definition)
    .flatMap((container) => mapsUnder(container, 'volumeMounts'))
    .find((candidate) => samePath(textOf(candidate, 'mountPath') ?? '', mountPath));
  const volume = mount && textOf(mount, 'name');
  if (volume === undefined) return { kind: 'none' };
  const declared = volumesOf(definition).find((candidate) => textOf(candidate, 'name') === volume);
  const hostPath = declared?.get('hostPath', true);
  const pathNode = isMap(hostPath) ? hostPath.get('path', true) : undefined;
  if (isScalar(pathNode) && typeof pathNode.value === 'string') {
    return { kind: 'host-directory', volume, path: pathNode.value, node: pathNode };
  }
  const claim = declared?.get('persistentVolumeClaim', true);
  const claimName = isMap(claim) ? textOf(claim, 'claimName') : undefined;
  if (claimName !== undefined) return { kind: 'named-volume', volume, claimName };
  const source = declared?.items
    .map((pair) => String(isScalar(pair.key) ? pair.key.value : pair.key))
    .find((key) => key !== 'name');
  return { kind: 'other', volume, source: source ?? 'not declared under volumes' };
}

/** `the host directory /srv/pg`, `the named volume aegis-postgres-data (…)`, …: a mounted volume in a message. */
export function describeVolume(volume: MountedVolume): string {
  switch (volume.kind) {
    case 'host-directory':
      return `the host directory ${volume.path}`;
    case 'named-volume':
      return `the named volume ${volume.claimName} (persistentVolumeClaim of volume ${volume.volume})`;
    case 'other':
      return `volume ${volume.volume} (${volume.source})`;
    case 'none':
      return 'no volume (none is mounted there)';
  }
}

/**
 * The definition's text with one scalar set to `value`, written in the scalar's own quoting. Only the scalar's bytes
 * change: serialising the whole document again would re-indent and re-space the operator's file.
 */
export function withScalar(definition: PodDefinition, node: Scalar, value: string): string {
  const [start, end] = node.range ?? [];
  if (start === undefined || end === undefined)
    throw new Error(`The YAML node to edit in ${definition.file} has no source`);
  const quoting = node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE' ? node.type : 'PLAIN';
  // A plain value that would read as something else (`16` a number) comes out quoted: it stays a string.
  const source = stringify(value, { defaultStringType: quoting, lineWidth: 0 }).trimEnd();
  return `${definition.text.slice(0, start)}${source}${definition.text.slice(end)}`;
}

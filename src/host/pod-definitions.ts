/**
 * The pods' Kubernetes YAML (`podman/pods/<pod>/pod-<pod>.yaml`), read with a YAML parser: by what each key says, in
 * whatever order the file writes them, and edited one value at a time, every other byte of the file kept.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { isMap, isScalar, isSeq, parseAllDocuments, stringify, type Document, type Scalar, type YAMLMap } from 'yaml';
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
export async function podsUnchangedByTag<Pod extends string = PodName>(
  root: string,
  pods: readonly Pod[],
  deployEnv: ReadonlyMap<string, string>,
  targetTag: string,
): Promise<Pod[]> {
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

/**
 * Parses a pod's YAML. A file of several documents (`---`), as `podman play kube` also takes, is read for its `kind: Pod`
 * one; the others (a ConfigMap, a PersistentVolumeClaim) are left as they are, and edits keep them byte for byte.
 */
export function parsePodDefinition(text: string, file: string): PodDefinition {
  const documents: Document.Parsed[] = [...parseAllDocuments(text)];
  const [error] = documents.flatMap((document) => document.errors);
  if (error) {
    throw new PreflightFailed(
      `${file} is not valid YAML (${error.message.split('\n', 1)[0]}): fix it; \`make redeploy\` would refuse it too`,
    );
  }
  const pods = documents.filter((document) => document.get('kind') === 'Pod');
  if (pods.length > 1) {
    throw new PreflightFailed(
      `${file} defines ${pods.length} pods (kind: Pod): one pod per file is what this worker reads`,
    );
  }
  const document = pods[0] ?? documents[0];
  if (!document) throw new PreflightFailed(`${file} holds no YAML document: it defines no pod`);
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

const containerName = (container: YAMLMap) => textOf(container, 'name') ?? '(unnamed)';
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
  /** A reference pinned by digest (`name:tag@sha256:…`) runs those bytes whatever the tag names. */
  digest?: string;
  node: Scalar;
}

export function containerImages(definition: PodDefinition): ContainerImage[] {
  return containersOf(definition).flatMap((container) => {
    const node = container.get('image', true);
    if (!isScalar(node) || typeof node.value !== 'string') return [];
    return [{ container: containerName(container), ...splitImage(node.value), node }];
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

/** A port a container declares (`ports:`), and where the host publishes it, when it does. */
export interface ContainerPort {
  container: string;
  containerPort: number;
  protocol: string;
  /** Absent: the port is only the pod's (other containers of the pod reach it on localhost). */
  hostPort?: number;
  hostIP?: string;
}

/** Every port every container of the pod declares, in the file's order. */
export function containerPorts(definition: PodDefinition): ContainerPort[] {
  return containersOf(definition).flatMap((container) =>
    mapsUnder(container, 'ports').flatMap((port): ContainerPort[] => {
      const containerPort = Number(textOf(port, 'containerPort'));
      if (!Number.isInteger(containerPort) || containerPort <= 0) return [];
      const hostPort = Number(textOf(port, 'hostPort'));
      const hostIP = textOf(port, 'hostIP');
      return [
        {
          container: containerName(container),
          containerPort,
          protocol: (textOf(port, 'protocol') ?? 'TCP').toUpperCase(),
          ...(Number.isInteger(hostPort) && hostPort > 0 && { hostPort }),
          ...(hostIP && { hostIP }),
        },
      ];
    }),
  );
}

/** Every TCP port the pod publishes on the host. */
export function publishedHostPorts(definition: PodDefinition): number[] {
  return containerPorts(definition)
    .filter((port) => port.protocol === 'TCP')
    .flatMap((port) => (port.hostPort === undefined ? [] : [port.hostPort]));
}

/** A container's environment as its YAML sets it (`env: - name, value`); a value from elsewhere (`valueFrom`) is left out. */
export function containerEnvironments(definition: PodDefinition): { container: string; env: Map<string, string> }[] {
  return containersOf(definition).map((container) => ({
    container: containerName(container),
    env: new Map(
      mapsUnder(container, 'env').flatMap((variable): [string, string][] => {
        const name = textOf(variable, 'name');
        return name === undefined ? [] : [[name, textOf(variable, 'value') ?? '']];
      }),
    ),
  }));
}

/** The pod's name (`metadata.name`): its containers are named `<pod name>-<container>` by `podman play kube`. */
export function podName(definition: PodDefinition): string | undefined {
  const metadata = definition.document.get('metadata', true);
  return isMap(metadata) ? textOf(metadata, 'name') : undefined;
}

/** The pods with a definition in the checkout: each `podman/pods/<pod>/pod-<pod>.yaml`, sorted. */
export async function podsDefined(root: string): Promise<string[]> {
  const directories = await fs.readdir(path.join(root, 'podman', 'pods'), { withFileTypes: true });
  const pods = await Promise.all(
    directories
      .filter((entry) => entry.isDirectory())
      .map(async ({ name }) => ((await fs.stat(podYamlPath(root, name)).catch(() => undefined))?.isFile() ? name : '')),
  );
  return pods.filter(Boolean).sort();
}

/** The volume a container mounts at a path, by the kind of storage behind it. */
export type MountedVolume =
  | { kind: 'host-directory'; volume: string; path: string; node: Scalar }
  | { kind: 'named-volume'; volume: string; claimName: string; node: Scalar }
  | { kind: 'other'; volume: string; source: string }
  | { kind: 'none' };

const samePath = (a: string, b: string) => path.posix.normalize(`${a}/`) === path.posix.normalize(`${b}/`);

/** What a volume of `spec.volumes` is backed by: a host path, a named volume (claim), or another source. */
export type VolumeSource =
  | { kind: 'host-directory'; path: string; node: Scalar }
  | { kind: 'named-volume'; claimName: string; node: Scalar }
  | { kind: 'other'; source: string };

function volumeSource(declared: YAMLMap | undefined): VolumeSource {
  const hostPath = declared?.get('hostPath', true);
  const pathNode = isMap(hostPath) ? hostPath.get('path', true) : undefined;
  if (isScalar(pathNode) && typeof pathNode.value === 'string') {
    return { kind: 'host-directory', path: pathNode.value, node: pathNode };
  }
  const claim = declared?.get('persistentVolumeClaim', true);
  const claimNode = isMap(claim) ? claim.get('claimName', true) : undefined;
  if (isScalar(claimNode) && claimNode.value !== null && typeof claimNode.value !== 'object') {
    return { kind: 'named-volume', claimName: String(claimNode.value), node: claimNode };
  }
  const source = declared?.items
    .map((pair) => String(isScalar(pair.key) ? pair.key.value : pair.key))
    .find((key) => key !== 'name');
  return { kind: 'other', source: source ?? 'not declared under volumes' };
}

export function mountedVolume(definition: PodDefinition, mountPath: string): MountedVolume {
  const mount = containersOf(definition)
    .flatMap((container) => mapsUnder(container, 'volumeMounts'))
    .find((candidate) => samePath(textOf(candidate, 'mountPath') ?? '', mountPath));
  const volume = mount && textOf(mount, 'name');
  if (volume === undefined) return { kind: 'none' };
  const source = volumeSource(volumesOf(definition).find((candidate) => textOf(candidate, 'name') === volume));
  switch (source.kind) {
    case 'host-directory':
      return { kind: 'host-directory', volume, path: source.path, node: source.node };
    case 'named-volume':
      return { kind: 'named-volume', volume, claimName: source.claimName, node: source.node };
    case 'other':
      return { kind: 'other', volume, source: source.source };
  }
}

/** A volume of the pod (`spec.volumes`), what backs it, and where each container mounts it. */
export type PodVolume = VolumeSource & {
  volume: string;
  mounts: { container: string; mountPath: string; readOnly: boolean }[];
};

/** Every volume the pod declares, in the file's order, with its mounts; one mounted but not declared is listed too. */
export function podVolumes(definition: PodDefinition): PodVolume[] {
  const mounts = containersOf(definition).flatMap((container) =>
    mapsUnder(container, 'volumeMounts').map((mount) => ({
      volume: textOf(mount, 'name') ?? '',
      container: containerName(container),
      mountPath: textOf(mount, 'mountPath') ?? '',
      readOnly: textOf(mount, 'readOnly') === 'true',
    })),
  );
  const declared = volumesOf(definition).map((volume) => ({ name: textOf(volume, 'name') ?? '', map: volume }));
  const undeclared = [...new Set(mounts.map((mount) => mount.volume))].filter(
    (name) => !declared.some((volume) => volume.name === name),
  );
  return [...declared, ...undeclared.map((name) => ({ name, map: undefined }))].map(({ name, map }) => ({
    ...volumeSource(map),
    volume: name,
    mounts: mounts
      .filter((mount) => mount.volume === name)
      .map(({ container, mountPath, readOnly }) => ({ container, mountPath, readOnly })),
  }));
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

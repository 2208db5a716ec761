/**
 * Every pod definition of the real deploy checkout (`aegis-deploy`, read in place from AEGIS_DEPLOY_REFERENCE), read
 * with our reader: its images split into name and tag, its volumes (host paths and named volumes) with their mounts, the
 * ports it declares and publishes, and the writers of each database. The expected values were written from reading the
 * files, not from this code's output. Without a checkout this suite is skipped, saying so and how to run it.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { databaseWriters, readPodDefinitions, type NamedPodDefinition } from '../../src/host/database-writers';
import { parseEnvFile } from '../../src/host/env-file';
import {
  containerImages,
  containerPorts,
  podsDefined,
  podsUnchangedByTag,
  podVolumes,
  publishedHostPorts,
  readPodDefinition,
  type PodDefinition,
} from '../../src/host/pod-definitions';
import { platformTemporalAddress } from '../../src/activities/component-preflight';
import { componentImageTag, databaseClusterStorage } from '../../src/activities/component-tags';
import { temporalServerVersion } from '../../src/activities/preflight';
import { MIGRATED_DATABASES } from '../../src/core/platform';
import { deployReference } from '../helpers/deploy-reference';

/** `container name tag` of each image, the name and tag as the reader splits them. */
const images = (definition: PodDefinition) =>
  containerImages(definition).map(({ container, name, tag }) => ({ container, name, tag }));

/** `volume kind source ← container:mountPath[ ro]`, one line per volume. */
const volumes = (definition: PodDefinition) =>
  podVolumes(definition).map((volume) => {
    const source =
      volume.kind === 'host-directory'
        ? volume.path
        : volume.kind === 'named-volume'
          ? volume.claimName
          : volume.source;
    const mounts = volume.mounts.map((mount) => `${mount.container}:${mount.mountPath}${mount.readOnly ? ' ro' : ''}`);
    return `${volume.volume} ${volume.kind} ${source} ← ${mounts.join(', ')}`;
  });

/** `container containerPort→hostPort`, or `container containerPort` for one the host does not publish. */
const ports = (definition: PodDefinition) =>
  containerPorts(definition).map(
    ({ container, containerPort, hostPort, protocol }) =>
      `${container} ${containerPort}${hostPort === undefined ? '' : `→${hostPort}`}${protocol === 'TCP' ? '' : protocol}`,
  );

const AEGIS_TAG = '${AEGIS_IMAGE_TAG}';

/** What each pod file holds, as read by eye. */
const EXPECTED: Record<string, { images: object[]; volumes: string[]; ports: string[] }> = {
  core: {
    images: [{ container: 'aegis-runtime', name: 'ghcr.io/100monkeys-ai/aegis-runtime', tag: AEGIS_TAG }],
    volumes: [
      'container-sock host-directory ${CONTAINER_SOCK} ← aegis-runtime:/run/podman/podman.sock',
      'aegis-config host-directory ./podman/pods/core/aegis-config.yaml ← aegis-runtime:/app/aegis-config.yaml',
      'runtime-registry host-directory ./podman/pods/core/runtime-registry.yaml ← aegis-runtime:/app/runtime-registry.yaml',
      'aegis-runtime-data named-volume aegis-runtime-data ← aegis-runtime:/app/data',
      'aegis-home named-volume aegis-home-data ← aegis-runtime:/root/.aegis',
    ],
    ports: ['aegis-runtime 8088→8088', 'aegis-runtime 50051→50051', 'aegis-runtime 9091→9091'],
  },
  database: {
    images: [
      { container: 'postgres', name: 'docker.io/postgres', tag: '15-alpine' },
      { container: 'postgres-exporter', name: 'docker.io/prometheuscommunity/postgres-exporter', tag: 'v0.19.1' },
      { container: 'pgbouncer', name: 'docker.io/edoburu/pgbouncer', tag: 'latest' },
    ],
    volumes: [
      'postgres-data named-volume aegis-postgres-data ← postgres:/var/lib/postgresql/data',
      'init-scripts host-directory ./scripts/init-multiple-dbs.sh ← postgres:/docker-entrypoint-initdb.d/init-multiple-dbs.sh',
    ],
    ports: ['postgres 5432→5432', 'postgres-exporter 9187→9187', 'pgbouncer 5433→5433'],
  },
  edge: {
    images: [{ container: 'caddy', name: 'ghcr.io/100monkeys-ai/caddy-cloudflare', tag: 'latest' }],
    volumes: [
      'caddyfile host-directory ${AEGIS_ROOT}/podman/pods/edge/Caddyfile ← caddy:/etc/caddy/Caddyfile',
      'caddy-data named-volume aegis-caddy-data ← caddy:/data',
      'caddy-config named-volume aegis-caddy-config ← caddy:/config',
    ],
    ports: ['caddy 80→80', 'caddy 443→443'],
  },
  observability: {
    images: [
      { container: 'jaeger', name: 'docker.io/jaegertracing/all-in-one', tag: '1.55' },
      { container: 'prometheus', name: 'docker.io/prom/prometheus', tag: 'v2.51.0' },
      { container: 'grafana', name: 'docker.io/grafana/grafana', tag: '10.4.0' },
      { container: 'loki', name: 'docker.io/grafana/loki', tag: '3.0.0' },
      { container: 'promtail', name: 'docker.io/grafana/promtail', tag: '3.0.0' },
      { container: 'otelcol', name: 'docker.io/otel/opentelemetry-collector-contrib', tag: '0.99.0' },
    ],
    volumes: [
      'prometheus-config host-directory ./podman/pods/observability/prometheus.yaml ← prometheus:/etc/prometheus/prometheus.yml',
      'prometheus-alerts host-directory ./podman/pods/observability/alerting ← prometheus:/etc/prometheus/alerts',
      'prometheus-data named-volume aegis-prometheus-data ← prometheus:/prometheus',
      'grafana-datasources host-directory ./podman/pods/observability/grafana/provisioning/datasources ← grafana:/etc/grafana/provisioning/datasources',
      'grafana-dashboard-provider host-directory ./podman/pods/observability/grafana/provisioning/dashboards ← grafana:/etc/grafana/provisioning/dashboards',
      'grafana-dashboards host-directory ./podman/pods/observability/grafana/dashboards ← grafana:/var/lib/grafana/dashboards',
      'grafana-data named-volume aegis-grafana-data ← grafana:/var/lib/grafana',
      'loki-config host-directory ./podman/pods/observability/loki-config.yaml ← loki:/etc/loki/local-config.yaml',
      'loki-data named-volume aegis-loki-data ← loki:/loki',
      'promtail-config host-directory ./podman/pods/observability/promtail-config.yaml ← promtail:/etc/promtail/config.yml',
      'podman-logs host-directory ${PODMAN_LOG_ROOT} ← promtail:/var/log/podman-containers ro',
      'podman-sock host-directory ${CONTAINER_SOCK} ← promtail:/var/run/podman.sock ro',
      'otelcol-config host-directory ./podman/pods/observability/otelcol-config.yaml ← otelcol:/etc/otelcol/config.yaml',
    ],
    ports: [
      'jaeger 16686→16686',
      'jaeger 14250',
      'prometheus 9090→9090',
      'grafana 3000→3300',
      'loki 3100→3100',
      'otelcol 4317→4317',
      'otelcol 4318→4318',
    ],
  },
  'seal-gateway': {
    images: [{ container: 'seal-gateway', name: 'ghcr.io/100monkeys-ai/aegis-seal-gateway', tag: AEGIS_TAG }],
    volumes: [
      'seal-gateway-config host-directory ${AEGIS_ROOT}/podman/pods/seal-gateway/seal-gateway-config.yaml ← seal-gateway:/etc/aegis/seal-gateway-config.yaml',
      'podman-socket host-directory ${CONTAINER_SOCK} ← seal-gateway:/run/podman/podman.sock',
    ],
    ports: ['seal-gateway 8089→8089', 'seal-gateway 50055→50055'],
  },
  secrets: {
    images: [{ container: 'openbao', name: 'docker.io/openbao/openbao', tag: 'latest' }],
    volumes: [
      'openbao-config host-directory ${AEGIS_ROOT}/podman/pods/secrets/openbao-config.hcl ← openbao:/openbao/config/openbao-config.hcl ro',
      'openbao-data named-volume aegis-openbao-data ← openbao:/openbao/data',
    ],
    ports: ['openbao 8200→8200'],
  },
  storage: {
    images: ['master', 'volume', 'filer', 'webdav'].map((role) => ({
      container: `seaweedfs-${role}`,
      name: 'docker.io/chrislusf/seaweedfs',
      tag: 'latest',
    })),
    volumes: ['master', 'volume', 'filer'].map(
      (role) => `seaweedfs-${role}-data named-volume aegis-seaweedfs-${role}-data ← seaweedfs-${role}:/data`,
    ),
    ports: [
      ...['9333', '19333', '9324'].map((port) => `seaweedfs-master ${port}→${port}`),
      ...['8080', '18080', '9325'].map((port) => `seaweedfs-volume ${port}→${port}`),
      ...['8888', '18888', '9326'].map((port) => `seaweedfs-filer ${port}→${port}`),
      'seaweedfs-webdav 7333→7333',
    ],
  },
  temporal: {
    images: [
      { container: 'temporal', name: 'docker.io/temporalio/auto-setup', tag: '1.23.0' },
      { container: 'temporal-ui', name: 'docker.io/temporalio/ui', tag: '2.21.3' },
      { container: 'temporal-worker', name: 'ghcr.io/100monkeys-ai/aegis-temporal-worker', tag: AEGIS_TAG },
    ],
    volumes: [
      'temporal-config host-directory ${AEGIS_ROOT}/podman/pods/temporal/development-sql.yaml ← temporal:/etc/temporal/config/dynamicconfig/development-sql.yaml',
      'temporal-worker-data named-volume aegis-temporal-worker-data ← temporal-worker:/app/data',
    ],
    ports: ['temporal 7233→7233', 'temporal 8100', 'temporal-ui 8080→8233'],
  },
};

const reference = deployReference();

(reference ? describe : describe.skip)('every pod definition of the real deploy checkout (aegis-deploy)', () => {
  const root = reference ?? '';
  let pods: NamedPodDefinition[];
  /** `.env.example`, as an operator's `.env` starts: what `make redeploy` renders the definitions with. */
  let variables: Map<string, string>;

  beforeAll(async () => {
    pods = await readPodDefinitions(root);
    variables = parseEnvFile(await fs.readFile(path.join(root, '.env.example'), 'utf8'));
  });

  const definition = (pod: string) => {
    const found = pods.find((named) => named.pod === pod);
    if (!found) throw new Error(`no pod-${pod}.yaml read`);
    return found.definition;
  };

  test('the pods defined are those read by eye, each file podman/pods/<pod>/pod-<pod>.yaml', async () => {
    expect(await podsDefined(root)).toEqual(Object.keys(EXPECTED).sort());
    expect(pods.map(({ pod }) => pod)).toEqual(Object.keys(EXPECTED).sort());
  });

  describe.each(Object.entries(EXPECTED))('pod %s', (pod, expected) => {
    test('its images, split into name and tag (an ${AEGIS_IMAGE_TAG} placeholder, a moving `latest`)', () => {
      expect(images(definition(pod))).toEqual(expected.images);
    });

    test('its volumes: host paths and named volumes, with where each container mounts them', () => {
      expect(volumes(definition(pod))).toEqual(expected.volumes);
    });

    test('its ports, published on the host or not', () => {
      expect(ports(definition(pod))).toEqual(expected.ports);
    });
  });

  test('every other reader of ours runs on them, as written and as `make redeploy` renders them with `.env`', async () => {
    for (const { pod, definition } of pods) {
      const rendered = await readPodDefinition(root, pod, variables);
      expect(publishedHostPorts(rendered)).toEqual(publishedHostPorts(definition));
      expect(podVolumes(rendered).map((volume) => volume.kind)).toEqual(
        podVolumes(definition).map((volume) => volume.kind),
      );
    }
    expect(componentImageTag(definition('database'), 'database')).toBe('15-alpine');
    expect(databaseClusterStorage(definition('database'))).toEqual({ volume: 'aegis-postgres-data' });
    expect(componentImageTag(definition('temporal'), 'temporal')).toBe('1.23.0');
    expect(temporalServerVersion(definition('temporal'))).toBe('1.23');
    expect(platformTemporalAddress(await readPodDefinition(root, 'temporal', variables))).toBe('127.0.0.1:7233');
    // The pods that run no image tagged ${AEGIS_IMAGE_TAG} are left running by an AEGIS upgrade.
    const env = new Map([...variables, ['AEGIS_IMAGE_TAG', '1.2.0']]);
    expect(await podsUnchangedByTag(root, Object.keys(EXPECTED), env, '1.3.0')).toEqual([
      'database',
      'edge',
      'observability',
      'secrets',
      'storage',
    ]);
  });

  test('the writers of aegis: the runtime and the AEGIS worker, through PgBouncer; not PgBouncer, not the exporter', () => {
    expect(databaseWriters(pods, variables, MIGRATED_DATABASES)).toEqual([
      { pod: 'core', container: 'aegis-core-aegis-runtime', why: 'AEGIS_DATABASE_URL names aegis on port 5433' },
      { pod: 'temporal', container: 'aegis-temporal-temporal-worker', why: 'DATABASE_URL names aegis on port 5433' },
    ]);
  });

  test('the writers of seal_gateway: the gateway, through PgBouncer', () => {
    expect(databaseWriters(pods, variables, ['seal_gateway']).map((writer) => writer.container)).toEqual([
      'aegis-seal-gateway-seal-gateway',
    ]);
  });
});

import { execa } from 'execa';
import { splitImage } from '../../src/host/pod-definitions';

/**
 * The digest the sandbox's registry (plain HTTP) names for `host/repository:tag` now, asked over its API, apart from
 * podman and from the worker's way of asking.
 */
export async function registryDigest(reference: string): Promise<string | null> {
  const { name, tag = 'latest' } = splitImage(reference);
  const [host, ...repository] = name.split('/');
  const response = await fetch(`http://${host}/v2/${repository.join('/')}/manifests/${tag}`, {
    method: 'HEAD',
    headers: {
      Accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json',
    },
  });
  return response.headers.get('docker-content-digest');
}

/** The digests the image a container runs was pulled by (the tests' podman is the platform user's). */
export async function runningDigests(container: string): Promise<string[]> {
  const id = (await execa('podman', ['container', 'inspect', '--format', '{{.Image}}', container])).stdout.trim();
  const { stdout } = await execa('podman', ['image', 'inspect', '--format', '{{json .RepoDigests}}', id]);
  return ((JSON.parse(stdout) as string[] | null) ?? []).map((named) => named.slice(named.lastIndexOf('@') + 1));
}

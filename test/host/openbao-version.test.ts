import type { Deployment } from '../../src/host/deployment';
import { openbaoVersion, openbaoVersionOf } from '../../src/host/openbao-version';

describe('the OpenBao version a pod runs', () => {
  const podman = jest.fn();
  const deployment = { podman } as unknown as Deployment;
  beforeEach(() => podman.mockReset());

  it('is its tag when the tag is a version: nothing is asked', async () => {
    expect(await openbaoVersion(deployment, 'aegis-secrets-openbao', '2.1.0')).toBe('2.1.0');
    expect(podman).not.toHaveBeenCalled();
  });

  it('for `latest` (the real checkout), what `bao version` answers in the running container', async () => {
    podman.mockResolvedValue({ stdout: "OpenBao v2.2.1 ('abc123'), built 2025-03-01T00:00:00Z\n", stderr: '' });
    expect(await openbaoVersion(deployment, 'aegis-secrets-openbao', 'latest')).toBe('2.2.1');
    expect(podman).toHaveBeenCalledWith(['exec', 'aegis-secrets-openbao', 'bao', 'version']);
  });

  it('is unknown when the container is not running or says no version', async () => {
    podman.mockRejectedValueOnce(new Error('no such container'));
    expect(await openbaoVersion(deployment, 'aegis-secrets-openbao', 'latest')).toBeUndefined();
    expect(openbaoVersionOf('Vault v1.15.0')).toBeUndefined();
    expect(openbaoVersionOf('OpenBao v2.0.0')).toBe('2.0.0');
  });
});

import type { Deployment } from '../../src/host/deployment';
import { PodNotReady } from '../../src/core/errors';
import { secretsAfterDeploy } from '../../src/host/secrets';

/** A deployment whose OpenBao and runtime answer as given; every make target run is recorded. */
function deployment(seal: string, runtimeEnv: string[], env: Record<string, string>) {
  const made: string[] = [];
  const stub = {
    env: async () => new Map(Object.entries(env)),
    podman: async (args: readonly string[]) => ({
      stdout: args[0] === 'exec' ? seal : JSON.stringify(runtimeEnv),
      stderr: '',
    }),
    make: async (target: string, variables?: Record<string, string>) => {
      made.push(`${target} ${JSON.stringify(variables ?? {})}`);
      return { stdout: '', stderr: '' };
    },
  } as unknown as Deployment;
  return { stub, made };
}

const UNSEALED = '{"type":"shamir","initialized":true,"sealed":false}';
const CREDENTIALS = { OPENBAO_ROLE_ID: 'role-1', OPENBAO_SECRET_ID: 'secret-2' };
const PROFILE = ['database', 'secrets', 'core'];

describe('secretsAfterDeploy: after the full path, OpenBao unsealed and the runtime on .env’s AppRole credentials', () => {
  it('redeploys the runtime when bootstrap-secrets wrote new credentials after it started, and never names them', async () => {
    const { stub, made } = deployment(
      UNSEALED,
      ['PATH=/bin', 'OPENBAO_ROLE_ID=role-1', 'OPENBAO_SECRET_ID=secret-1'],
      CREDENTIALS,
    );

    const detail = await secretsAfterDeploy(stub, PROFILE);

    expect(made).toEqual(['redeploy {"POD":"core"}']);
    expect(detail).toBe(
      'OpenBao unsealed; the runtime redeployed: it had started before make bootstrap-secrets wrote OPENBAO_SECRET_ID into .env',
    );
    expect(detail).not.toMatch(/secret-[12]|role-1/);
  });

  it('leaves the runtime alone when it holds the credentials .env names', async () => {
    const { stub, made } = deployment(UNSEALED, ['OPENBAO_ROLE_ID=role-1', 'OPENBAO_SECRET_ID=secret-2'], CREDENTIALS);

    await expect(secretsAfterDeploy(stub, PROFILE)).resolves.toBe(
      "OpenBao unsealed; the runtime holds .env's AppRole credentials",
    );
    expect(made).toEqual([]);
  });

  it('fails the step when OpenBao is still sealed or not initialised, as a pod that is not ready', async () => {
    const sealed = deployment('{"initialized":true,"sealed":true}', [], CREDENTIALS);
    await expect(secretsAfterDeploy(sealed.stub, PROFILE)).rejects.toThrow(
      new PodNotReady(
        'OpenBao (aegis-secrets-openbao) is sealed after `make bootstrap-secrets`: the runtime cannot read its secrets; ' +
          'run `make bootstrap-secrets` and see its output',
      ),
    );
    const uninitialised = deployment('{"initialized":false,"sealed":true}', [], CREDENTIALS);
    await expect(secretsAfterDeploy(uninitialised.stub, PROFILE)).rejects.toThrow(/is not initialised after/);
    expect([...sealed.made, ...uninitialised.made]).toEqual([]);
  });

  it('does nothing when the profile runs no OpenBao', async () => {
    const { stub, made } = deployment('not asked', [], CREDENTIALS);
    await expect(secretsAfterDeploy(stub, ['database', 'core'])).resolves.toBe('');
    expect(made).toEqual([]);
  });
});

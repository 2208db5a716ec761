import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../src/config';
import { checkDeployment } from '../src/worker';

/**
 * The worker's start: no deploy checkout at AEGIS_ROOT, or one that says it is another environment, stops it in one
 * line naming what is wrong and the fix.
 */
describe('checkDeployment', () => {
  let root: string;
  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-worker-'));
    await fs.writeFile(path.join(root, 'Makefile'), 'redeploy:\n');
  });
  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  const check = (environment?: string) =>
    checkDeployment(loadConfig({ AEGIS_ROOT: root, ...(environment && { AEGIS_ENVIRONMENT: environment }) }));

  it("refuses to start a worker of environment default on production's checkout", async () => {
    await fs.writeFile(path.join(root, '.env'), 'AEGIS_IMAGE_TAG=1.2.0\nAEGIS_ENVIRONMENT=production\n');
    const error: unknown = await check().catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe(
      `AEGIS_ENVIRONMENT is \`default\`, but the deployment ${root} is environment production (AEGIS_ENVIRONMENT in ` +
        `its .env): set AEGIS_ENVIRONMENT=production, or AEGIS_ROOT to default's checkout`,
    );
  });

  const refusal = async (environment?: string) => {
    const error: unknown = await check(environment).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  };
  const fix = 'set AEGIS_ROOT to the deploy checkout the operator runs `make` in';

  it('refuses an AEGIS_ROOT that does not exist or is a file', async () => {
    await fs.rm(root, { recursive: true });
    expect(await refusal()).toBe(`AEGIS_ROOT ${root} does not exist: ${fix}`);
    await fs.writeFile(root, '');
    expect(await refusal()).toBe(`AEGIS_ROOT ${root} is not a directory: ${fix}`);
    await fs.rm(root);
  });

  it('refuses a checkout without its Makefile or its .env, naming each one missing', async () => {
    expect(await refusal()).toBe(`AEGIS_ROOT ${root} has no .env: ${fix}`);
    await fs.rm(path.join(root, 'Makefile'));
    expect(await refusal()).toBe(`AEGIS_ROOT ${root} has no Makefile and no .env: ${fix}`);
    await fs.writeFile(path.join(root, '.env'), 'AEGIS_IMAGE_TAG=1.2.0\n');
    expect(await refusal()).toBe(`AEGIS_ROOT ${root} has no Makefile: ${fix}`);
  });

  it("refuses to run as another user than the checkout's owner, naming both", async () => {
    await fs.writeFile(path.join(root, '.env'), 'AEGIS_IMAGE_TAG=1.2.0\n');
    const owner = (process.getuid?.() ?? 0) + 1;
    await fs.chown(root, owner, owner);
    const message = await refusal();
    expect(message).toContain(`The worker cannot serve AEGIS_ROOT ${root}: running as `);
    expect(message).toMatch(new RegExp(`but the checkout belongs to \\S+ \\(uid ${owner}\\)`));
    expect(message).toContain('User=');
  });

  it('starts on a checkout that names its environment, or names none', async () => {
    await fs.writeFile(path.join(root, '.env'), 'AEGIS_IMAGE_TAG=1.2.0\n');
    await expect(check()).resolves.toBeUndefined();
    await fs.writeFile(path.join(root, '.env'), 'AEGIS_ENVIRONMENT=staging\n');
    await expect(check('staging')).resolves.toBeUndefined();
  });
});

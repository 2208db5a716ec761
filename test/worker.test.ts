import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../src/config';
import { checkDeployment } from '../src/worker';

/** The worker's start: a checkout that says it is another environment stops it, naming both and the fix. */
describe('checkDeployment', () => {
  let root: string;
  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-worker-'));
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

  it('starts on a checkout that names its environment, names none, or has no .env yet', async () => {
    await expect(check('staging')).resolves.toBeUndefined();
    await fs.writeFile(path.join(root, '.env'), 'AEGIS_IMAGE_TAG=1.2.0\n');
    await expect(check()).resolves.toBeUndefined();
    await fs.writeFile(path.join(root, '.env'), 'AEGIS_ENVIRONMENT=staging\n');
    await expect(check('staging')).resolves.toBeUndefined();
  });
});

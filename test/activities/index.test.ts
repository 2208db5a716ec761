import { ApplicationFailure } from '@temporalio/common';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createActivities } from '../../src/activities';
import type { RunCommand } from '../../src/host/command';
import { FLEET_ACTIVITIES } from '../../src/host/environment-guard';
import { WRONG_ENVIRONMENT } from '../../src/core/errors';
import { loadConfig } from '../../src/config';
import { activityEnvironment } from '../helpers/activity-environment';

const ENV_FILE = 'AEGIS_IMAGE_TAG=1.2.0\nPOSTGRES_USER=aegis\nPOSTGRES_PASSWORD=secret\n';

/** Every activity of the real set, on a staging worker, asked by an upgrade of production: none may act. */
describe('createActivities on the worker of one environment', () => {
  let root: string;
  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'aegis-activities-'));
    await fs.writeFile(path.join(root, '.env'), ENV_FILE);
  });
  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  const stagingActivities = (commands: string[]) => {
    const run: RunCommand = async (file, args) => {
      commands.push([file, ...args].join(' '));
      return { stdout: '', stderr: '', all: '' } as Awaited<ReturnType<RunCommand>>;
    };
    return createActivities({ config: loadConfig({ AEGIS_ROOT: root, AEGIS_ENVIRONMENT: 'staging' }), run });
  };

  it('refuses every activity of a misrouted upgrade before it runs a command or writes a file', async () => {
    const commands: string[] = [];
    const activities = stagingActivities(commands);
    const names = Object.keys(activities) as (keyof typeof activities)[];
    expect(names.length).toBeGreaterThan(15);
    for (const name of names) {
      const environment = activityEnvironment({
        activityType: name,
        workflowExecution: { workflowId: 'aegis-upgrade-production', runId: 'run-1' },
      });
      const error: unknown = await environment
        .run(activities[name] as (input: unknown) => Promise<unknown>, { environment: 'production' })
        .catch((thrown: unknown) => thrown);
      expect(error).toBeInstanceOf(ApplicationFailure);
      expect(error).toMatchObject({
        type: WRONG_ENVIRONMENT,
        nonRetryable: true,
        // A fleet's activity (checkHealth) is checked against the environment its input names.
        message: expect.stringContaining(
          FLEET_ACTIVITIES.includes(name)
            ? `${name} refused: Workflow \`aegis-upgrade-production\` asked this of environment production`
            : `${name} refused: Workflow \`aegis-upgrade-production\` is for environment production`,
        ),
      });
    }
    expect(commands).toEqual([]);
    expect(await fs.readdir(root)).toEqual(['.env']);
    expect(await fs.readFile(path.join(root, '.env'), 'utf8')).toBe(ENV_FILE);
  });

  it("runs the activities of its own environment's upgrades", async () => {
    const commands: string[] = [];
    const environment = activityEnvironment({
      activityType: 'setImageTag',
      workflowExecution: { workflowId: 'aegis-upgrade-staging', runId: 'run-1' },
    });
    await expect(environment.run(stagingActivities(commands).setImageTag, { tag: '1.3.0' })).resolves.toBe('1.2.0');
    expect(await fs.readFile(path.join(root, '.env'), 'utf8')).toContain('AEGIS_IMAGE_TAG=1.3.0');
  });
});

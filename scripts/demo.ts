/**
 * `npm run demo`: the upgrade on the local sandbox platform, end to end. A real Temporal dev server, the worker
 * in its own process, then 1.2.0 → 1.3.0 (completes) and 1.3.0 → 1.3.1 (a failed migration, rolled back).
 */
import { Client, Connection } from '@temporalio/client';
import { followUpgrade } from '../src/cli/follow';
import { UPGRADE_WORKFLOW_TYPE, upgradeWorkflowId } from '../src/core/upgrade';
import { SANDBOX_HOST_BIN, sandbox, sandboxEnv } from '../test/helpers/sandbox';
import { aegisPodsListed } from '../test/helpers/platform-user';
import { startDevServer } from '../test/helpers/temporal-server';
import { startWorker } from '../test/helpers/worker-process';

function say(text: string): void {
  console.log(`\n== ${text}`);
}

async function main(): Promise<void> {
  say('Bringing up the sandbox AEGIS platform (the first run builds its images: a few minutes)');
  await sandbox('up');
  say('Resetting it to the baseline, 1.2.0');
  await sandbox('reset');
  say("It runs rootless, as the real platform: its pods are the platform user's, and root's podman sees none");
  console.log(`podman pod ps as the platform's user: ${(await aegisPodsListed('the platform user')).join(', ')}`);
  console.log(`podman pod ps as root: ${(await aegisPodsListed('root')).join(', ') || 'no AEGIS pod'}`);
  say('Starting a Temporal dev server');
  const server = await startDevServer();
  console.log(`Temporal dev server on ${server.address}`);
  const connection = await Connection.connect({ address: server.address });
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    ...(await sandboxEnv()),
    TEMPORAL_ADDRESS: server.address,
    // The host's `systemctl --user` (the FUSE daemon's) is the sandbox's stand-in.
    PATH: `${SANDBOX_HOST_BIN}:${process.env.PATH ?? ''}`,
  };
  say('Starting the aegis-upgrade worker');
  const worker = await startWorker(env);
  try {
    const client = new Client({ connection });
    for (const targetVersion of ['1.3.0', '1.3.1']) {
      say(`Upgrading to ${targetVersion}`);
      const handle = await client.workflow.start(UPGRADE_WORKFLOW_TYPE, {
        taskQueue: env.AEGIS_TASK_QUEUE ?? 'aegis-upgrades',
        // The worker serves environment default: one upgrade after the other under its workflow ID.
        workflowId: upgradeWorkflowId('default'),
        args: [{ targetVersion }],
      });
      await followUpgrade(handle);
    }
  } finally {
    await worker.stop();
    await connection.close();
    await server.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

import { DefaultLogger } from '@temporalio/worker';
import path from 'node:path';
import { writeWorkflowBundle } from '../src/worker/workflow-bundle';

/** `npm run build`, after tsc: the workflows bundled once into dist/src/, where the worker loads them. */
async function main(): Promise<void> {
  const { file, bytes } = await writeWorkflowBundle(new DefaultLogger('WARN'));
  console.log(`workflow bundle: ${path.relative(process.cwd(), file)} (${Math.round(bytes / 1024)} KiB)`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

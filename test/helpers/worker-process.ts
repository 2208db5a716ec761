import { execa, type ResultPromise } from 'execa';
import fs from 'node:fs';
import path from 'node:path';
import { MissingDependency, REPO_ROOT } from './repo';

const WORKER_ENTRY = path.join(REPO_ROOT, 'dist', 'src', 'worker.js');

/** The worker as operators run it (`npm start`): its own process, so a test can SIGKILL it. */
export interface WorkerProcess {
  pid: number;
  output(): string;
  /** SIGTERM, as a service manager stops it; resolves with the exit code once the process has ended. */
  stop(): Promise<number | undefined>;
  kill(): Promise<number | undefined>;
}

export async function startWorker(env: Record<string, string>): Promise<WorkerProcess> {
  if (!fs.existsSync(WORKER_ENTRY)) {
    throw new MissingDependency(`${WORKER_ENTRY} is missing`, 'Run `npm run build` (npm test does it first)');
  }
  const child: ResultPromise = execa('node', [WORKER_ENTRY], {
    env,
    reject: false,
    all: true,
    buffer: false,
  });
  let output = '';
  child.all?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 60_000;
  while (!output.includes('aegis-upgrade worker:')) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`The worker did not start:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const end = async (signal: NodeJS.Signals) => {
    child.kill(signal);
    return (await child).exitCode;
  };
  return { pid: child.pid ?? 0, output: () => output, stop: () => end('SIGTERM'), kill: () => end('SIGKILL') };
}

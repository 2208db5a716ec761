import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { MissingDependency, REPO_ROOT } from '../test/helpers/repo';
import { readCpuSeconds, readRssMiB } from './proc';
import type { ScaleWorkerMessage, ScaleWorkerRequest } from './scale-worker';

/** Worker start: the workflow bundle is built first (webpack), which takes seconds, more on a loaded machine. */
const READY_TIMEOUT_MS = 120_000;
/** A worker asked to stop with no upgrade running ends in well under this; past it, it is killed. */
const STOP_TIMEOUT_MS = 30_000;
/** How often the worker's RSS is read (from /proc, so a busy worker's event loop cannot delay or skip a sample). */
export const RSS_SAMPLE_INTERVAL_MS = 100;

/** The benchmark's worker process (bench/scale-worker.ts): its own pid, so its RSS and CPU time are its own. */
export interface ScaleWorker {
  pid: number;
  /** User + system CPU time the worker process has used since it started, every thread counted. */
  cpuSeconds(): number;
  /** Its resident set size now, from /proc/<pid>/status. */
  rssMiB(): number;
  stop(): Promise<void>;
}

/**
 * The compiled child next to this file; from the TypeScript sources (a test under ts-jest), the one `npm run build`
 * wrote: a forked `node` runs JavaScript only.
 */
function workerEntry(): string {
  const entry = __filename.endsWith('.js')
    ? path.join(__dirname, 'scale-worker.js')
    : path.join(REPO_ROOT, 'dist', 'bench', 'scale-worker.js');
  if (!fs.existsSync(entry)) throw new MissingDependency(`${entry} is missing`, 'Run `npm run build`');
  return entry;
}

/** Resolves once the worker says it polls; rejects, naming why, if it exits first or says nothing in time. */
function ready(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const onMessage = (message: ScaleWorkerMessage) => {
      if (message.kind !== 'ready') return;
      done();
      resolve();
    };
    const onExit = (code: number | null, signal: string | null) => {
      done();
      reject(new Error(`The scale benchmark's worker (pid ${child.pid}) exited (${code ?? signal}) before it polled`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`The scale benchmark's worker (pid ${child.pid}) did not poll within ${READY_TIMEOUT_MS} ms`));
    }, READY_TIMEOUT_MS);
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/** Starts the worker on `taskQueue` of the Temporal server at `address`; resolves once it polls. */
export async function startScaleWorker(address: string, taskQueue: string): Promise<ScaleWorker> {
  const child = fork(workerEntry(), [address, taskQueue], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await ready(child);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  const request = (message: ScaleWorkerRequest) => child.send(message);
  return {
    pid: child.pid ?? 0,
    cpuSeconds: () => readCpuSeconds(child.pid ?? 0),
    rssMiB: () => readRssMiB(child.pid ?? 0),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      request({ kind: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Reads `worker`'s RSS every RSS_SAMPLE_INTERVAL_MS until stopped: `stop` takes a last sample and returns the highest
 * and the count, `cancel` (a round that failed) just stops.
 */
export function sampleRss(worker: ScaleWorker): { stop(): { peakMiB: number; samples: number }; cancel(): void } {
  let peakMiB = 0;
  let samples = 0;
  let failure: unknown;
  const sample = () => {
    try {
      peakMiB = Math.max(peakMiB, worker.rssMiB());
      samples++;
    } catch (error) {
      // A worker gone mid-run: the run fails on its own; the sampler says why it has no figure.
      failure ??= error;
    }
  };
  sample();
  const timer = setInterval(sample, RSS_SAMPLE_INTERVAL_MS);
  return {
    stop() {
      clearInterval(timer);
      sample();
      if (failure) throw failure;
      return { peakMiB, samples };
    },
    cancel: () => clearInterval(timer),
  };
}

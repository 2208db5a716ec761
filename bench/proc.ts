/** What Linux's /proc says of another process: its memory and CPU time, read without its cooperation. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

/** The resident set size of process `pid` now (VmRSS), in MiB. */
export function readRssMiB(pid: number): number {
  const kiB = /^VmRSS:\s+(\d+) kB$/m.exec(readProc(pid, 'status'))?.[1];
  if (kiB === undefined) throw new Error(`/proc/${pid}/status has no VmRSS line: is process ${pid} a zombie?`);
  return Number(kiB) / 1024;
}

let clockTicksPerSecond: number | undefined;

/** User + system CPU time process `pid` has used so far, every thread counted, in seconds (10 ms resolution). */
export function readCpuSeconds(pid: number): number {
  const stat = readProc(pid, 'stat');
  // Fields after the command name, which is in parentheses and may hold spaces: state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[14 - 3]) + Number(fields[15 - 3]);
  if (!Number.isFinite(ticks)) throw new Error(`/proc/${pid}/stat has no utime and stime: ${stat}`);
  clockTicksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  return ticks / clockTicksPerSecond;
}

function readProc(pid: number, file: 'status' | 'stat'): string {
  try {
    return fs.readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch (error) {
    throw new Error(`Cannot read /proc/${pid}/${file}: the scale benchmark needs Linux and process ${pid} running`, {
      cause: error,
    });
  }
}

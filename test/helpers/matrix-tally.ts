import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './repo';

/** Where each part of the fault matrix writes its tally, one JSON line each, for the run's closing summary. */
export const MATRIX_RESULTS = path.join(REPO_ROOT, '.test-results', 'fault-matrix.jsonl');

/** What the journal of commands proved in a part: its scenarios, their changes, the repeats proven harmless. */
export interface JournalTally {
  scenarios: number;
  succeeded: number;
  harmless: Record<string, number>;
}

export interface MatrixPartTally {
  part: string;
  /** The sandbox the part ran on: its lane's deployment, or the main sandbox. */
  sandbox: string;
  scenarios: number;
  rolledBack: number;
  completed: number;
  refused: number;
  /** Ended RollbackFailed, as the scenario meant, and then finished by hand with its manual steps. */
  rollbackFailed: number;
  journal?: JournalTally;
  startedAt: number;
  endedAt: number;
}

const minutes = (ms: number) => (ms / 60_000).toFixed(1);

type Outcome = 'rolledBack' | 'completed' | 'refused' | 'rollbackFailed';

function outcomes(tally: Pick<MatrixPartTally, Outcome>): string {
  return (
    `upgrades that ended as each scenario expected: ${tally.rolledBack} rolled back, ${tally.completed} completed, ` +
    `${tally.refused} refused, ${tally.rollbackFailed} failed to roll back (then finished by hand)`
  );
}

/** Called by each part when it ends: prints its own line and keeps its tally for the summary. */
export async function recordMatrixPart(tally: Omit<MatrixPartTally, 'sandbox'>): Promise<void> {
  const entry: MatrixPartTally = { ...tally, sandbox: process.env.AEGIS_SANDBOX_DIR ?? 'main' };
  process.stdout.write(
    `fault matrix, ${tally.part}: ${tally.scenarios} scenarios in ${minutes(tally.endedAt - tally.startedAt)} min; ` +
      `${outcomes(tally)}${journalLine(tally.journal)}\n`,
  );
  await fs.promises.mkdir(path.dirname(MATRIX_RESULTS), { recursive: true });
  await fs.promises.appendFile(MATRIX_RESULTS, `${JSON.stringify(entry)}\n`);
}

function journalLine(journal: JournalTally | undefined): string {
  if (!journal?.scenarios) return '';
  const repeats = Object.entries(journal.harmless);
  const total = repeats.reduce((sum, [, count]) => sum + count, 0);
  return (
    `; journal of commands: ${journal.scenarios} scenarios, ${journal.succeeded} changes that succeeded, none twice` +
    (total
      ? ` but ${total} repeats proven harmless (${repeats.map(([reason, n]) => `${n} ${reason}`).join(', ')})`
      : '')
  );
}

export function clearMatrixResults(): void {
  fs.rmSync(MATRIX_RESULTS, { force: true });
}

/** The whole matrix in one line (CI's summary reads it), or nothing when no part ran. */
export function matrixSummary(parts: MatrixPartTally[]): string | undefined {
  if (parts.length === 0) return undefined;
  const sum = (key: 'scenarios' | Outcome) => parts.reduce((total, part) => total + part[key], 0);
  const wall = Math.max(...parts.map((part) => part.endedAt)) - Math.min(...parts.map((part) => part.startedAt));
  const own = parts.reduce((total, part) => total + part.endedAt - part.startedAt, 0);
  const sandboxes = new Set(parts.map((part) => part.sandbox)).size;
  const scenarios = sum('scenarios');
  return (
    `fault matrix: ${scenarios} scenarios in ${parts.length} parts on ${sandboxes} sandbox(es) side by side: ` +
    `${minutes(wall)} min (the parts' own times add up to ${minutes(own)} min), ` +
    `${(scenarios / (wall / 60_000)).toFixed(1)} scenarios per minute; ` +
    outcomes({
      rolledBack: sum('rolledBack'),
      completed: sum('completed'),
      refused: sum('refused'),
      rollbackFailed: sum('rollbackFailed'),
    })
  );
}

export function readMatrixResults(): MatrixPartTally[] {
  if (!fs.existsSync(MATRIX_RESULTS)) return [];
  return fs
    .readFileSync(MATRIX_RESULTS, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as MatrixPartTally);
}

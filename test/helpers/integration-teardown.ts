import { matrixSummary, readMatrixResults } from './matrix-tally';

/** Jest's global tear-down of the integration tests: the fault matrix's parts in one line (CI's summary reads it). */
export default function integrationTeardown(): void {
  const summary = matrixSummary(readMatrixResults());
  if (summary) process.stdout.write(`\n${summary}\n`);
}

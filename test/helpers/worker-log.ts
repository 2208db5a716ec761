import type { UpgradeReport } from '../../src/core/upgrade';

/** One line of the worker's log with AEGIS_LOG_FORMAT=json: the fields the tests read. */
export interface LogLine {
  level: string;
  message: string;
  workflowId?: string;
  activityType?: string;
  step?: string;
  status?: string;
  durationMs?: number;
  exitCode?: number;
}

/** The JSON lines of a worker's output (anything else it printed is left out). */
export function jsonLogLines(output: string): LogLine[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine);
}

/** The lines of upgrade `workflowId`: its workflow's and its activities'. */
export function upgradeLog(lines: readonly LogLine[], workflowId: string): LogLine[] {
  return lines.filter((line) => line.workflowId === workflowId);
}

/** True once the upgrade's last line, its outcome, is written (the logger buffers lines for 100 ms). */
export function outcomeLogged(lines: readonly LogLine[], workflowId: string): boolean {
  return upgradeLog(lines, workflowId).some((line) =>
    /^upgrade .* (completed in|rolled back after|failed and so did its rollback|refused by pre-flight)/.test(
      line.message,
    ),
  );
}

/**
 * What the log of a finished upgrade must hold: each step of its report, and of its rollback, started and ended with
 * the status and duration the report has (a step since rolled back had succeeded); each command with its exit code
 * and duration; none of `secrets` anywhere in `output`.
 */
export function expectUpgradeLogged(output: string, report: UpgradeReport, workflowId: string, secrets: string[]) {
  const log = upgradeLog(jsonLogLines(output), workflowId);
  for (const step of [...report.steps, ...report.rollback].filter((known) => known.durationMs !== undefined)) {
    expect(log).toContainEqual(expect.objectContaining({ step: step.id, status: 'running' }));
    expect(log).toContainEqual(
      expect.objectContaining({
        step: step.id,
        status: step.status === 'rolled-back' ? 'succeeded' : step.status,
        durationMs: step.durationMs,
        message: expect.stringMatching(new RegExp(`^step ${step.id} \\S+ in \\d`)),
      }),
    );
  }
  const commands = log.filter((line) => line.message.startsWith('command `'));
  expect(commands.length).toBeGreaterThan(0);
  for (const command of commands) {
    expect(command).toEqual(
      expect.objectContaining({
        activityType: expect.any(String),
        durationMs: expect.any(Number),
        message: expect.stringMatching(
          /^command `[^]+` (exited (\d+|\(no exit code\)) in|timed out after|was cancelled after) /,
        ),
      }),
    );
    if (/ exited \d+ in /.test(command.message)) expect(command.exitCode).toEqual(expect.any(Number));
  }
  for (const secret of secrets) expect(output).not.toContain(secret);
  return { log, commands };
}

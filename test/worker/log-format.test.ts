import type { LogEntry } from '@temporalio/worker';
import { createLogger, formatLogEntry } from '../../src/worker/log-format';

const AT = BigInt(Date.parse('2026-11-26T03:00:01.250Z')) * 1_000_000n;

/** What the SDK hands the logger for an activity's line: its context's attributes, then ours. */
const commandEntry: LogEntry = {
  level: 'INFO',
  message: 'command `make redeploy POD=core` exited 0 in 12.3 s',
  timestampNanos: AT,
  meta: {
    sdkComponent: 'activity',
    isLocal: false,
    attempt: 1,
    namespace: 'default',
    taskToken: 'CiQ0ZmU0…',
    activityId: '7',
    activityType: 'redeployPod',
    taskQueue: 'aegis-upgrades',
    workflowId: 'aegis-upgrade-default-2026-11-26T03:00:00Z',
    workflowRunId: '0193…',
    workflowType: 'upgradePlatform',
    command: 'make redeploy POD=core',
    exitCode: 0,
    durationMs: 12_345,
  },
};

describe('a log line', () => {
  it('reads, as text, time, level, message, then the workflow and activity it came from', () => {
    expect(formatLogEntry(commandEntry, 'text')).toBe(
      '2026-11-26T03:00:01.250Z INFO  command `make redeploy POD=core` exited 0 in 12.3 s ' +
        'activityType=redeployPod workflowId=aegis-upgrade-default-2026-11-26T03:00:00Z',
    );
  });

  it('keeps, as JSON, every field but the task token', () => {
    const line = formatLogEntry(commandEntry, 'json');
    const expected = Object.fromEntries(Object.entries(commandEntry.meta ?? {}).filter(([key]) => key !== 'taskToken'));

    expect(JSON.parse(line)).toEqual({
      time: '2026-11-26T03:00:01.250Z',
      level: 'INFO',
      message: commandEntry.message,
      ...expected,
    });
    expect(line).not.toContain('CiQ0ZmU0');
  });

  it('shows a retry attempt, quotes values with spaces and keeps an error to its message, on one line', () => {
    const line = formatLogEntry(
      {
        level: 'WARN',
        message: 'Activity failed\nsecond line',
        timestampNanos: AT,
        meta: { attempt: 2, error: new Error('`make redeploy` failed with exit code 2:\nno such pod'), pod: 'core' },
      },
      'text',
    );

    expect(line).toBe(
      '2026-11-26T03:00:01.250Z WARN  Activity failed\\nsecond line attempt=2 ' +
        'error="`make redeploy` failed with exit code 2:\\nno such pod" pod=core',
    );
    expect(line.split('\n')).toHaveLength(1);
  });

  it('writes an error as its name, message and stack in JSON, on one line', () => {
    const line = formatLogEntry(
      { level: 'ERROR', message: 'failed', timestampNanos: AT, meta: { error: new TypeError('bad\nthing') } },
      'json',
    );

    expect(line.split('\n')).toHaveLength(1);
    expect(JSON.parse(line).error).toMatchObject({ name: 'TypeError', message: 'bad\nthing' });
  });
});

describe('the worker logger', () => {
  it('writes the lines at or above its level, in its format', () => {
    const lines: string[] = [];
    const logger = createLogger({ logLevel: 'WARN', logFormat: 'json' }, (line) => lines.push(line));

    logger.info('not written');
    logger.warn('step redeploy:core failed in 3.0 s', { step: 'redeploy:core' });

    expect(lines.map((line) => JSON.parse(line))).toEqual([
      expect.objectContaining({ level: 'WARN', message: 'step redeploy:core failed in 3.0 s', step: 'redeploy:core' }),
    ]);
  });
});

import type { WorkflowHandle } from '@temporalio/client';
import { followFleet, followUpgrade } from '../../src/cli/follow';
import { liveBlock, paintFor, type Output } from '../../src/cli/terminal';
import type { StepRecord, UpgradeProgress, UpgradeReport } from '../../src/core/upgrade';

/** What a terminal or a pipe received, write by write. */
function recorder(tty: boolean, columns?: number): Output & { writes: string[]; text: () => string } {
  const writes: string[] = [];
  return { isTTY: tty, columns, writes, write: (text: string) => writes.push(text), text: () => writes.join('') };
}

const step = (id: string, status: StepRecord['status']): StepRecord => ({
  id,
  title: `Step ${id}`,
  status,
  ...(status === 'succeeded' ? { durationMs: 1_500 } : {}),
});

const progress = (phase: UpgradeProgress['phase'], ...steps: StepRecord[]): UpgradeProgress => ({
  phase,
  fromVersion: '1.2.0',
  toVersion: '1.3.0',
  steps,
  rollback: [],
});

const REPORT: UpgradeReport = {
  ...progress('completed', step('a', 'succeeded'), step('b', 'succeeded')),
  images: [],
  migrationsApplied: [],
  databaseRestored: false,
};

/** A handle whose progress query answers each snapshot in turn, and whose result comes after the last. */
function fakeUpgrade(snapshots: UpgradeProgress[]): WorkflowHandle {
  let queried = 0;
  let finish: (report: UpgradeReport) => void = () => undefined;
  const result = new Promise<UpgradeReport>((resolve) => (finish = resolve));
  return {
    query: async () => {
      const snapshot = snapshots[queried++];
      if (queried >= snapshots.length) setImmediate(() => finish(REPORT));
      return snapshot;
    },
    result: () => result,
  } as unknown as WorkflowHandle;
}

const SNAPSHOTS = [
  progress('upgrading', step('a', 'running'), step('b', 'pending')),
  progress('upgrading', step('a', 'succeeded'), step('b', 'running')),
];

/** Cursor up N lines, then erase from there to the end of the screen. */
// eslint-disable-next-line no-control-regex -- the escape sequences are what is matched
const ERASE_PREVIOUS = /\u001b\[(\d+)A\u001b\[0J/g;

describe('liveBlock', () => {
  it('draws the first block as it is, then moves up over exactly the previous block and clears from there', () => {
    const out = recorder(true, 80);
    const draw = liveBlock(out);

    draw('one\ntwo\nthree');
    draw('four\nfive');
    draw('six');

    expect(out.writes).toEqual(['one\ntwo\nthree\n', '\u001b[3A\u001b[0Jfour\nfive\n', '\u001b[2A\u001b[0Jsix\n']);
  });

  it('counts a line wider than the terminal as the rows it wraps onto, colour codes taking no width', () => {
    const out = recorder(true, 10);
    const draw = liveBlock(out);

    draw(`${'x'.repeat(25)}\n\u001b[32m✓\u001b[39m short`);
    draw('next');

    expect(out.writes[1]).toBe('\u001b[4A\u001b[0Jnext\n');
  });
});

describe('paintFor', () => {
  it('colours a terminal, unless NO_COLOR is set; never a pipe', () => {
    const green = paintFor(recorder(true), {}).ok('✓');
    expect(green).toBe('\u001b[32m✓\u001b[39m');
    expect(paintFor(recorder(true), { NO_COLOR: '1' }).ok('✓')).toBe('✓');
    expect(paintFor(recorder(true), { TERM: 'dumb' }).ok('✓')).toBe('✓');
    expect(paintFor(recorder(false), {}).ok('✓')).toBe('✓');
  });

  it('colours with NO_COLOR set but empty, as no-color.org says', () => {
    expect(paintFor(recorder(true), { NO_COLOR: '' }).ok('✓')).toBe('\u001b[32m✓\u001b[39m');
  });

  it('--color always colours a pipe, even with NO_COLOR; --color never leaves a terminal plain', () => {
    expect(paintFor(recorder(false), { NO_COLOR: '1' }, 'always').ok('✓')).toBe('\u001b[32m✓\u001b[39m');
    expect(paintFor(recorder(true), {}, 'never').ok('✓')).toBe('✓');
    expect(paintFor(recorder(true), {}, 'auto').ok('✓')).toBe('\u001b[32m✓\u001b[39m');
  });
});

describe('followFleet', () => {
  const snapshots = (...frames: [boolean, string[]][]) => {
    let index = 0;
    return () => {
      const [running, lines] = frames[Math.min(index++, frames.length - 1)] ?? [false, []];
      return Promise.resolve({ running, lines });
    };
  };

  it('prints each line once, when it changed, until the fleet ends', async () => {
    const out = recorder(false);
    await followFleet(
      'aegis-fleet-nightly',
      snapshots(
        [true, ['Fleet to 1.3.0: upgrading, wave 1 of 2', '  canary  wave 1  upgrading', '  eu  wave 2  pending']],
        [true, ['Fleet to 1.3.0: upgrading, wave 1 of 2', '  canary  wave 1  upgrading', '  eu  wave 2  pending']],
        [true, ['Fleet to 1.3.0: upgrading, wave 2 of 2', '  canary  wave 1  completed', '  eu  wave 2  upgrading']],
        [false, ['Fleet to 1.3.0: completed, wave 2 of 2', '  canary  wave 1  completed', '  eu  wave 2  completed']],
      ),
      { out, pollIntervalMs: 1 },
    );

    expect(out.text().split('\n')).toEqual([
      'Fleet to 1.3.0: upgrading, wave 1 of 2',
      'canary  wave 1  upgrading',
      'eu  wave 2  pending',
      'Fleet to 1.3.0: upgrading, wave 2 of 2',
      'canary  wave 1  completed',
      'eu  wave 2  upgrading',
      'Fleet to 1.3.0: completed, wave 2 of 2',
      'eu  wave 2  completed',
      '',
    ]);
  });

  it('gives up at --timeout, saying the fleet goes on', async () => {
    const out = recorder(true, 80);
    await expect(
      followFleet('aegis-fleet-nightly', snapshots([true, ['Fleet to 1.3.0: baking']]), {
        out,
        pollIntervalMs: 5,
        timeoutMs: 20,
      }),
    ).rejects.toThrow(/^Stopped following aegis-fleet-nightly after 0\.0 s \(--timeout\): it goes on/);
    expect(out.writes[0]).toBe('Fleet to 1.3.0: baking\n');
  });
});

describe('followUpgrade', () => {
  it('redraws in place in a terminal: never a full-screen clear, each frame erasing only the one before', async () => {
    const out = recorder(true, 120);

    const report = await followUpgrade(fakeUpgrade(SNAPSHOTS), { out, paint: paintFor(out, {}), pollIntervalMs: 1 });

    expect(report.phase).toBe('completed');
    const text = out.text();
    expect(text).not.toContain('\u001b[2J');
    expect(text).not.toContain('\u001b[H');
    // Frames of four lines (header, two steps, what comes next), then three (nothing pending): each redraw goes up
    // over the frame before it.
    expect(out.writes[0]).toMatch(/^Upgrade 1\.2\.0 → 1\.3\.0: upgrading\n/);
    expect([...text.matchAll(ERASE_PREVIOUS)].map((match) => match[1])).toEqual(['4', '3']);
    expect(text).toContain('\u001b[32m✓\u001b[39m Step a (1.5 s)');
    expect(text.endsWith('Result: \u001b[32mcompleted\u001b[39m\n')).toBe(true);
  });

  it('appends one line per step that ended when piped, with no escape sequence', async () => {
    const out = recorder(false);

    await followUpgrade(fakeUpgrade(SNAPSHOTS), { out, paint: paintFor(out, {}), pollIntervalMs: 1 });

    expect(out.text()).toBe('  ✓ Step a (1.5 s)\n  ✓ Step b (1.5 s)\nResult: completed\n');
  });

  it('in a terminal with NO_COLOR, redraws in place without colour', async () => {
    const out = recorder(true, 120);

    await followUpgrade(fakeUpgrade(SNAPSHOTS), { out, paint: paintFor(out, { NO_COLOR: '1' }), pollIntervalMs: 1 });

    const text = out.text();
    expect(text.replace(ERASE_PREVIOUS, '')).not.toContain('\u001b');
    expect([...text.matchAll(ERASE_PREVIOUS)]).toHaveLength(2);
    expect(text).toContain('  ✓ Step a (1.5 s)');
  });
});

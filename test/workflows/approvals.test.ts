import { ApprovalGates } from '../../src/workflows/approvals';

/** Gates as upgrades started before approvals released only the gate waiting (`approvals-per-gate`) open them. */
function gatesWith(...pods: ('core' | 'temporal')[]) {
  const notes: string[] = [];
  const gates = new ApprovalGates((note) => notes.push(note));
  gates.open(pods, false);
  return { gates, notes };
}

describe('approval gates release only the gate waiting (waiting itself is a workflow test)', () => {
  const waitingAtNone = () => {
    const notes: string[] = [];
    const gates = new ApprovalGates((note) => notes.push(note));
    gates.receive({});
    gates.open(['core', 'temporal'], true);
    return { gates, notes };
  };

  it('refuses an approval without a gate name while no gate waits, even one sent before the request was parsed', () => {
    const { gates, notes } = waitingAtNone();
    gates.receive(undefined);

    expect([gates.isApproved('core'), gates.isApproved('temporal')]).toEqual([false, false]);
    expect(notes).toEqual([
      'Approval refused: no gate waits for an approval now; an approval is never kept for a later gate',
      'Approval refused: no gate waits for an approval now; an approval is never kept for a later gate',
    ]);
  });

  it('refuses an approval of a gate not reached yet, or of none, saying why', () => {
    const { gates, notes } = waitingAtNone();
    notes.length = 0;
    gates.receive({ pod: 'temporal' });
    gates.receive({ pod: 'observability' });

    expect(gates.isApproved('temporal')).toBe(false);
    expect(notes).toEqual([
      'Approval for `temporal` refused: its gate is not reached yet, and no gate waits for an approval now; ' +
        'approve a gate while the upgrade waits at it',
      'Approval for `observability` refused: the upgrade has no gate before it (gates: `core`, `temporal`); ' +
        'approve a gate while the upgrade waits at it',
    ]);
  });
});

describe('approval gates of upgrades started before: approvals remembered per gate', () => {
  it('keeps an approval sent before the request was even parsed, for the first gate', () => {
    const notes: string[] = [];
    const gates = new ApprovalGates((note) => notes.push(note));
    gates.receive(undefined);
    expect(gates.isApproved('core')).toBe(false);
    gates.open(['core', 'temporal'], false);
    expect(gates.isApproved('core')).toBe(true);
    expect(gates.isApproved('temporal')).toBe(false);
    expect(notes).toEqual([]);
  });

  it('gives unnamed approvals to the gates in order, and refuses one too many visibly', () => {
    const { gates, notes } = gatesWith('core', 'temporal');
    gates.receive(undefined);
    gates.receive({});
    expect([gates.isApproved('core'), gates.isApproved('temporal')]).toEqual([true, true]);
    gates.receive(null);
    expect(notes).toEqual(['Approval refused: no approval gate is left to release']);
  });

  it('gives a named approval to its own gate', () => {
    const { gates, notes } = gatesWith('core', 'temporal');
    gates.receive({ pod: 'temporal' });
    expect([gates.isApproved('core'), gates.isApproved('temporal')]).toEqual([false, true]);
    gates.receive({ pod: 'temporal' });
    expect(notes).toEqual(['Approval for `temporal` refused: its gate is already approved']);
  });

  it('refuses an approval for a pod without a gate, naming the gates', () => {
    const { gates, notes } = gatesWith('core');
    gates.receive({ pod: 'seal-gateway' });
    expect(gates.isApproved('core')).toBe(false);
    expect(notes).toEqual(['Approval for `seal-gateway` refused: the upgrade has no gate before it (gates: `core`)']);
  });

  it('refuses any approval of an upgrade without gates', () => {
    const { notes } = (() => {
      const made = gatesWith();
      made.gates.receive(undefined);
      return made;
    })();
    expect(notes).toEqual(['Approval refused: no approval gate is left to release']);
  });

  it.each([['core'], [{ pod: 'mongodb' }], [{ pod: 'core', who: 'me' }], [42], [{ pod: 'core', by: 42 }]])(
    'refuses an input it cannot read: %j',
    (input) => {
      const { gates, notes } = gatesWith('core');
      gates.receive(input);
      expect(gates.isApproved('core')).toBe(false);
      expect(notes).toHaveLength(1);
      expect(notes[0]).toMatch(
        /^Approval refused: expected (no input or \{"pod":"core",.*\}|`by` to be one line.*), got `/,
      );
    },
  );
});

import { UsageError } from '../../src/cli/errors';
import { unlockRequest } from '../../src/cli/unlock';
import { unlockRequestProblems, unlockWorkflowId } from '../../src/core/upgrade-lock';
import { thrown } from '../helpers/thrown';

describe('unlockRequestProblems', () => {
  it.each([
    ['who and why', { clearedBy: 'alice@ops-laptop', reason: 'rollback finished by hand' }],
    ['who alone', { clearedBy: 'alice@ops-laptop' }],
    ['a reason left out as null', { clearedBy: 'alice@ops-laptop', reason: null }],
  ])('accepts %s', (_, request) => {
    expect(unlockRequestProblems(request)).toEqual([]);
  });

  it.each([
    ['not an object', 'alice', 'Expected the unlock request to be an object'],
    ['nobody', { reason: 'x' }, 'Expected `clearedBy` to be one line of text of at most 200 characters'],
    ['a blank name', { clearedBy: '  ' }, 'Expected `clearedBy`'],
    ['a reason of two lines', { clearedBy: 'a@b', reason: 'x\ny' }, 'Expected `reason` to be one line'],
    ['a reason too long', { clearedBy: 'a@b', reason: 'x'.repeat(1001) }, 'at most 1000 characters'],
    ['a typo', { clearedBy: 'a@b', reasn: 'x' }, 'Unknown field `reasn`: expected only clearedBy, reason'],
  ])('refuses %s', (_, request, says) => {
    expect(unlockRequestProblems(request).join('; ')).toContain(says);
  });
});

describe("the CLI's unlock request", () => {
  it('records the operator as user@host', () => {
    expect(unlockRequest('stuck').clearedBy).toMatch(/^[^@\s]+@\S+$/);
  });

  it('refuses a bad reason before connecting, as bad usage', () => {
    expect(thrown(UsageError, () => unlockRequest('a\nb')).message).toContain('Expected `reason`');
  });
});

it('names unlock workflows after the environment and the time, to the second', () => {
  expect(unlockWorkflowId('staging', new Date('2026-11-26T09:00:00.123Z'))).toBe(
    'aegis-unlock-staging-2026-11-26T09:00:00Z',
  );
});

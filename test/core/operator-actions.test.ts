import {
  OPERATOR_TEXT_LIMIT,
  describeAction,
  parseAbortRequest,
  parseApproval,
  parseOperatorAction,
} from '../../src/core/operator-actions';

describe('parseApproval', () => {
  it.each([
    [undefined, {}],
    [null, {}],
    [{}, {}],
    [{ pod: 'core' }, { pod: 'core' }],
    [
      { pod: 'core', by: 'ana@ops-1', reason: ' canary fine ' },
      { pod: 'core', by: 'ana@ops-1', reason: 'canary fine' },
    ],
    [{ by: 'ana@ops-1', pod: null, reason: null }, { by: 'ana@ops-1' }],
  ])('reads %j as %j', (input, approval) => {
    expect(parseApproval(input)).toEqual(approval);
  });

  it.each([
    ['core', /^expected no input or \{"pod":"core","by":"user@host","reason":"…"\}, got `"core"`$/],
    [{ pod: 'mongodb' }, /got `\{"pod":"mongodb"\}`$/],
    [{ pod: 'core', who: 'me' }, /got `\{"pod":"core","who":"me"\}`$/],
    [{ by: 42 }, /^expected `by` to be one line of text up to 500 characters, got `42`$/],
    [{ reason: '' }, /^expected `reason` to be one line/],
    [{ reason: 'two\nlines' }, /^expected `reason` to be one line/],
    [{ reason: 'x'.repeat(OPERATOR_TEXT_LIMIT + 1) }, /^expected `reason` to be one line/],
  ])('refuses %j, saying why', (input, message) => {
    expect(parseApproval(input)).toMatch(message);
  });
});

describe('parseAbortRequest', () => {
  it('reads the bare reason older clients sent, and who and why as an object', () => {
    expect(parseAbortRequest('error rate up')).toEqual({ reason: 'error rate up' });
    expect(parseAbortRequest('')).toEqual({});
    expect(parseAbortRequest({ by: 'ana@ops-1', reason: 'error rate up' })).toEqual({
      by: 'ana@ops-1',
      reason: 'error rate up',
    });
    expect(parseAbortRequest(undefined)).toEqual({});
  });

  it('refuses anything else, as the fleet approval does', () => {
    expect(parseAbortRequest({ pod: 'core' })).toMatch(/^expected \{"by":"user@host","reason":"…"\}, got/);
    expect(parseOperatorAction(7)).toMatch(/^expected \{"by":"user@host","reason":"…"\}, got `7`$/);
    expect(parseOperatorAction({ by: 'ana' })).toEqual({ by: 'ana' });
  });
});

describe('describeAction', () => {
  it.each([
    [{ by: 'ana@ops-1', reason: 'error rate up' }, ' by ana@ops-1: error rate up'],
    [{ by: 'ana@ops-1' }, ' by ana@ops-1'],
    [{ reason: 'error rate up' }, ': error rate up'],
    [{}, ''],
  ])('%j reads %j after "approved" or "cancelled"', (action, text) => {
    expect(describeAction(action)).toBe(text);
  });
});

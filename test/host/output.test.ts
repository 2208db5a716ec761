import { lastLines, redact, stripAnsi } from '../../src/host/output';

describe('stripAnsi', () => {
  it('removes colour codes and keeps the text', () => {
    expect(stripAnsi('  \x1b[0;32m✓\x1b[0m AEGIS Runtime')).toBe('  ✓ AEGIS Runtime');
    expect(stripAnsi('\x1b[2m2026-11-26T03:00:00Z\x1b[0m \x1b[32m INFO\x1b[0m ready')).toBe(
      '2026-11-26T03:00:00Z  INFO ready',
    );
  });

  it('removes cursor and erase sequences', () => {
    expect(stripAnsi('\x1b[?25lpulling\x1b[2K\x1b[1Adone\x1b[?25h')).toBe('pullingdone');
  });

  it('leaves text without escape codes unchanged', () => {
    expect(stripAnsi('plain [0;32m text')).toBe('plain [0;32m text');
  });
});

describe('lastLines', () => {
  const numbered = (count: number) => Array.from({ length: count }, (_, index) => `line ${index + 1}`).join('\n');

  it('keeps the last 15 lines by default', () => {
    const tail = lastLines(numbered(20)).split('\n');

    expect(tail).toHaveLength(15);
    expect(tail[0]).toBe('line 6');
    expect(tail.at(-1)).toBe('line 20');
  });

  it('keeps at most the number of lines asked for', () => {
    expect(lastLines(numbered(10), 3)).toBe('line 8\nline 9\nline 10');
  });

  it('drops blank lines, trailing spaces and colour codes', () => {
    expect(lastLines('first  \n\n   \n\x1b[31mError:\x1b[0m pull failed\n\n', 5)).toBe('first\nError: pull failed');
  });

  it('cuts a long tail to its last characters behind an ellipsis', () => {
    const long = `${'a'.repeat(50)}\n${'b'.repeat(30)}`;

    const tail = lastLines(long, 15, 40);

    expect(tail.startsWith('…')).toBe(true);
    expect(tail.slice(1)).toBe(long.slice(-40));
  });

  it('leaves a tail within the character limit whole', () => {
    expect(lastLines('short\noutput', 15, 12)).toBe('short\noutput');
  });
});

describe('redact', () => {
  it('replaces every occurrence of every secret', () => {
    const text = 'login -p ghp_token123 then ghp_token123 again with pg-password';

    expect(redact(text, ['ghp_token123', 'pg-password'])).toBe('login -p *** then *** again with ***');
  });

  it('replaces the longest secret first, so a secret inside another leaves nothing behind', () => {
    expect(redact('token=abcd1234efgh', ['abcd', 'abcd1234efgh'])).toBe('token=***');
  });

  it('ignores secrets shorter than 4 characters', () => {
    expect(redact('user aegis pass abc', ['abc', ''])).toBe('user aegis pass abc');
  });

  it('treats secrets as text, not patterns', () => {
    expect(redact('password is p4$$.word* and p4XXXword', ['p4$$.word*'])).toBe('password is *** and p4XXXword');
  });
});

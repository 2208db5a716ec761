/** Helpers that keep what activities return small and free of secrets. */

// eslint-disable-next-line no-control-regex -- colour codes start with the ESC control character
const ANSI_ESCAPE = /\u001b\[[0-9;?]*[A-Za-z]/g;

export function stripAnsi(text: string): string {
  return text.replace(ANSI_ESCAPE, '');
}

/** The last `maxLines` non-empty lines, cut to their last `maxChars` characters: enough to diagnose, small in history. */
export function lastLines(text: string, maxLines = 15, maxChars = 2000): string {
  const lines = stripAnsi(text)
    .split('\n')
    .map((line) => line.trimEnd())
    .filter(Boolean);
  const tail = lines.slice(-maxLines).join('\n');
  return tail.length > maxChars ? `…${tail.slice(-maxChars)}` : tail;
}

/** Replaces every secret value with `***`; secrets shorter than 4 characters are too common to replace safely. */
export function redact(text: string, secrets: readonly string[]): string {
  return secrets
    .filter((secret) => secret.length >= 4)
    .sort((a, b) => b.length - a.length)
    .reduce((result, secret) => result.split(secret).join('***'), text);
}

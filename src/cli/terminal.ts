/** What the CLI writes to: a terminal (isTTY, columns) or a pipe. */
export interface Output {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** Colours for a terminal; `plain` leaves the text as it is. */
export interface Paint {
  ok(text: string): string;
  bad(text: string): string;
  warn(text: string): string;
  active(text: string): string;
  dim(text: string): string;
}

const sgr = (open: number, close: number) => (text: string) => `\u001b[${open}m${text}\u001b[${close}m`;

const COLOURS: Paint = { ok: sgr(32, 39), bad: sgr(31, 39), warn: sgr(33, 39), active: sgr(36, 39), dim: sgr(2, 22) };

const same = (text: string) => text;

export const plain: Paint = { ok: same, bad: same, warn: same, active: same, dim: same };

/**
 * `--color`: `auto` colours on a terminal only, and not when `NO_COLOR` is set to anything (https://no-color.org);
 * `always` and `never` say it outright.
 */
export function paintFor(
  out: Output,
  env: Record<string, string | undefined> = process.env,
  when: 'auto' | 'always' | 'never' = 'auto',
): Paint {
  if (when !== 'auto') return when === 'always' ? COLOURS : plain;
  return out.isTTY && !env.NO_COLOR && env.TERM !== 'dumb' ? COLOURS : plain;
}

// eslint-disable-next-line no-control-regex -- the escape sequences are what is matched
const ESCAPE_SEQUENCE = /\u001b\[[\d;]*[A-Za-z]/g;

export function withoutEscapes(text: string): string {
  return text.replace(ESCAPE_SEQUENCE, '');
}

/** The width a text takes on screen: its escape sequences take none. */
export function visibleWidth(text: string): number {
  return [...withoutEscapes(text)].length;
}

/** The rows a text takes on a terminal `columns` wide, long lines wrapping. */
function rowsOf(text: string, columns: number | undefined): number {
  return text
    .split('\n')
    .reduce((rows, line) => rows + (columns ? Math.max(1, Math.ceil(visibleWidth(line) / columns)) : 1), 0);
}

/**
 * Draws a block of lines that each call replaces in place: the cursor goes up over the previous block, and only from
 * there down is cleared, so what the terminal showed above it (the command, earlier output) stays.
 */
export function liveBlock(out: Output): (text: string) => void {
  let rows = 0;
  return (text) => {
    out.write(`${rows > 0 ? `\u001b[${rows}A\u001b[0J` : ''}${text}\n`);
    rows = rowsOf(text, out.columns);
  };
}

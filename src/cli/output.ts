/** How a command prints: its format (`-o`, `--json`) and its colours (`--color`), the same for every command. */
import { paintFor, type Output, type Paint } from './terminal';

export const OUTPUT_FORMATS = ['text', 'json'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export const COLOR_MODES = ['auto', 'always', 'never'] as const;
export type ColorMode = (typeof COLOR_MODES)[number];

/** The global options every command takes (program.ts declares them). */
export interface GlobalOptions {
  /** `--address`, over TEMPORAL_ADDRESS and the profile. */
  address?: string;
  /** `-n`, `--namespace`, over TEMPORAL_NAMESPACE and the profile. */
  namespace?: string;
  /** `--profile`, over TEMPORAL_PROFILE. */
  profile?: string;
  /** @default 'text' */
  output?: OutputFormat;
  /** @default 'auto' */
  color?: ColorMode;
  /** The older spelling of `-o json`, kept by the commands that had it. */
  json?: boolean;
}

export function isJson(options: GlobalOptions): boolean {
  return options.json === true || options.output === 'json';
}

/** JSON as every command prints it: two-space indented, one document. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

/** The colours of `--color`, on `out`. */
export function paintOf(options: GlobalOptions, out: Output = process.stdout): Paint {
  return paintFor(out, process.env, options.color);
}

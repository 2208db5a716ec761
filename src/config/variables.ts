/** A setting missing or wrong: the message names the variable or file, and says what was expected. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export type Env = Record<string, string | undefined>;

/** Reads a variable, blank counting as unset; without a fallback it is required. */
export function reader(env: Env) {
  return (name: string, fallback?: string): string => {
    const value = env[name]?.trim() || fallback;
    if (value === undefined) throw new ConfigError(`${name} is not set`);
    return value;
  };
}

/** The variables that are set: a blank one counts as unset, as by `reader`. */
export function setVariables(env: Env): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => Boolean(entry[1]?.trim())),
  );
}

import { ConfigError } from '../../src/config';

/** The ConfigError that `load` throws; fails the test when it throws nothing or something else. */
export function configError(load: () => unknown): ConfigError {
  try {
    load();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('Expected a ConfigError, but nothing was thrown');
}

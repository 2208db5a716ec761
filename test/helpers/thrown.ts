/** The error of class `type` that `run` throws; fails the test when it throws nothing or something else. */
export function thrown<E extends Error>(type: abstract new (...args: never[]) => E, run: () => unknown): E {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(type);
    expect((error as Error).name).toBe(type.name);
    return error as E;
  }
  throw new Error(`Expected a ${type.name}, but nothing was thrown`);
}

/**
 * Like Promise.all, but waits for every branch before failing, and fails with the first failure in the order given
 * (not the first in time): nothing keeps running behind a failure, and the same failures always give the same error.
 * Pure: the workflows use it too.
 */
export async function settleAll<T extends readonly unknown[]>(
  work: [...{ [K in keyof T]: Promise<T[K]> }],
): Promise<T> {
  const results = await Promise.allSettled(work);
  const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failure) throw failure.reason;
  return results.map((result) => (result as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/** Reading the checkout's files, for the checks of `doctor`. */
import fs from 'node:fs/promises';

/** The text of a file of the checkout, or undefined when there is none. */
export const readIfPresent = (file: string) =>
  fs.readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });

import fs from 'node:fs/promises';
import path from 'node:path';
import { isImageTag } from '../core/platform';
import type { Deployment } from '../host/deployment';
import { IMAGE_TAG_KEY, parseEnvFile, setEnvValue, writeFileAtomic } from '../host/env-file';
import { InvalidActivityInput } from '../core/errors';

export function createTagActivities(deployment: Deployment) {
  return {
    /** Sets `AEGIS_IMAGE_TAG` in `.env` atomically, every other line kept; returns the tag it replaced. */
    async setImageTag({ tag }: { tag: string }): Promise<string> {
      // `make` sources .env as root: a newline or a `$(…)` in the tag would be a command.
      if (typeof tag !== 'string' || !isImageTag(tag)) {
        throw new InvalidActivityInput('tag', 'an image tag like 1.3.0', String(tag));
      }
      const file = path.join(deployment.root, '.env');
      const text = await fs.readFile(file, 'utf8');
      const previous = parseEnvFile(text).get(IMAGE_TAG_KEY) || 'latest';
      if (previous !== tag) await writeFileAtomic(file, setEnvValue(text, IMAGE_TAG_KEY, tag));
      return previous;
    },
  };
}

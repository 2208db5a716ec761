import path from 'node:path';
import { isImageTag } from '../core/platform';
import type { Deployment } from '../host/deployment';
import { IMAGE_TAG_KEY, parseEnvFile, setEnvFileValue } from '../host/env-file';
import { InvalidActivityInput } from '../core/errors';

export function createTagActivities(deployment: Deployment) {
  return {
    /**
     * Sets `AEGIS_IMAGE_TAG` in `.env` atomically, every other line kept, those another writer adds meanwhile too;
     * returns the tag it replaced.
     */
    async setImageTag({ tag }: { tag: string }): Promise<string> {
      // `make` sources .env as root: a newline or a `$(…)` in the tag would be a command.
      if (typeof tag !== 'string' || !isImageTag(tag)) {
        throw new InvalidActivityInput('tag', 'an image tag like 1.3.0', String(tag));
      }
      const replaced = await setEnvFileValue(path.join(deployment.root, '.env'), IMAGE_TAG_KEY, tag);
      return parseEnvFile(replaced).get(IMAGE_TAG_KEY) || 'latest';
    },
  };
}

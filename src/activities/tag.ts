import fs from 'node:fs/promises';
import path from 'node:path';
import type { Deployment } from './deployment';
import { IMAGE_TAG_KEY, parseEnvFile, setEnvValue, writeFileAtomic } from './env-file';

export function createTagActivities(deployment: Deployment) {
  return {
    /** Sets `AEGIS_IMAGE_TAG` in `.env` atomically, every other line kept; returns the tag it replaced. */
    async setImageTag({ tag }: { tag: string }): Promise<string> {
      const file = path.join(deployment.root, '.env');
      const text = await fs.readFile(file, 'utf8');
      const previous = parseEnvFile(text).get(IMAGE_TAG_KEY) || 'latest';
      if (previous !== tag) await writeFileAtomic(file, setEnvValue(text, IMAGE_TAG_KEY, tag));
      return previous;
    },
  };
}

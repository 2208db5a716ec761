import { TEMPORAL_CONTAINER } from '../core/platform';
import type { Deployment } from '../host/deployment';
import { ValidationFailed } from '../core/errors';

/** Whether `select version()` (`PostgreSQL 16.2 on x86_64…`) names `version`: `16` any 16.x, `16.2` that one. */
export function namesPostgresVersion(versionText: string, version: string): boolean {
  const running = /^PostgreSQL (\d+(?:\.\d+)?)/.exec(versionText)?.[1];
  return running !== undefined && (running === version || running.startsWith(`${version}.`));
}

/** What runs after a component's redeploy, read from the component itself, not from the YAML that asked for it. */
export function createComponentVersionActivities(deployment: Deployment) {
  return {
    /** `select version()` names the version the upgrade (or its rollback) put in place. */
    async verifyPostgresVersion({ version }: { version: string }): Promise<string> {
      const text = (await deployment.psql('postgres', 'select version()')).trim();
      if (!namesPostgresVersion(text, version)) {
        throw new ValidationFailed(`PostgreSQL runs \`${text.slice(0, 80)}\`, not ${version}`);
      }
      return text.split(' on ')[0] ?? text;
    },

    /**
     * The Temporal server's container runs the image tag asked for, and its schema version as auto-setup left it in the
     * `schema_version` table of database temporal.
     */
    async verifyTemporalServer({ tag }: { tag: string }): Promise<string> {
      const { stdout } = await deployment.podman([
        'container',
        'inspect',
        '--format',
        '{{.State.Status}} {{.ImageName}}',
        TEMPORAL_CONTAINER,
      ]);
      const [state, image = ''] = stdout.trim().split(' ');
      if (state !== 'running' || !image.endsWith(`:${tag}`)) {
        throw new ValidationFailed(`${TEMPORAL_CONTAINER} is ${state} on ${image}, not running auto-setup:${tag}`);
      }
      const schema = (await deployment.psql('temporal', 'select curr_version from schema_version limit 1')).trim();
      return `${image} running; temporal schema ${schema || '(none)'}`;
    },
  };
}

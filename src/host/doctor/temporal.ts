/** The worker's own Temporal server: it answers, and it is not the platform's (pod temporal), which upgrades restart. */
import { blocking, passed, warned, firstLine, type DoctorCheck } from '../../core/doctor';
import { makeVariables, readPodDefinition } from '../pod-definitions';
import { platformTemporalAddress, sameTemporalServer, temporalIdentity } from '../temporal-identity';
import { guarded, type LiveContext } from './context';

const TEMPORAL_FIX = "point TEMPORAL_ADDRESS (or the profile of the temporal CLI's file) at the worker's server";

export const checkTemporal = (context: LiveContext) =>
  guarded('Temporal', TEMPORAL_FIX, () => compareTemporal(context));

async function compareTemporal({ deployment, pods }: LiveContext): Promise<DoctorCheck> {
  const name = 'Temporal';
  const { connection, namespace } = deployment.config.temporal;
  const own = await temporalIdentity(connection, namespace).catch((error: unknown) => error as Error);
  if (own instanceof Error) {
    return blocking(
      name,
      `the worker's Temporal server at ${connection.address} does not answer: ${firstLine(own)}`,
      `start it, or ${TEMPORAL_FIX}`,
    );
  }
  if (!own.namespaceId) {
    return blocking(
      name,
      `the worker's Temporal server at ${connection.address} has no namespace ${namespace}`,
      `temporal operator namespace create ${namespace}, then aegis-upgrade setup`,
    );
  }
  const answers = `the worker's server ${connection.address} answers (namespace ${namespace})`;
  if (!pods.includes('temporal')) return passed(name, `${answers}; the profile runs no Temporal of its own`);
  let platform: string;
  try {
    platform = platformTemporalAddress(
      await readPodDefinition(deployment.root, 'temporal', makeVariables(await deployment.env())),
    );
  } catch (error) {
    return warned(name, `${answers}; cannot tell it from the platform's: ${firstLine(error)}`, 'publish its port');
  }
  const { same, why } = await sameTemporalServer(connection, platform, namespace);
  if (same) {
    return warned(
      name,
      `the worker's server is the platform's own (pod temporal, ${why}): an upgrade redeploys pod temporal under itself, and component upgrades of Temporal or a major of PostgreSQL are refused`,
      'run the worker on a Temporal server of its own (TEMPORAL_ADDRESS)',
    );
  }
  return passed(name, `${answers}; it is not the platform's: ${why}`);
}

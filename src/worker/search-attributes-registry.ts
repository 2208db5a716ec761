/** Registering the upgrade's search attributes on a namespace (`aegis-upgrade setup`), and checking them (the worker). */
import type { OperatorService } from '@temporalio/client';
import { SearchAttributeType } from '@temporalio/common';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { ConfigError } from '../config';
import { UPGRADE_SEARCH_ATTRIBUTES, searchAttributeTypeName } from '../core/search-attributes';

/** What `setup` did: the attributes it registered, and those that were already there with the right type. */
export interface SearchAttributesSetup {
  namespace: string;
  registered: string[];
  alreadyRegistered: string[];
}

/** The server's number for a type: every SearchAttributeType has one. */
function indexedType(type: SearchAttributeType): number {
  return encodeSearchAttributeIndexedValueType(type) as number;
}

function typeNameOf(indexed: number | undefined): string {
  const type = Object.values(SearchAttributeType).find((each) => indexedType(each) === indexed);
  return type ? searchAttributeTypeName(type) : `unknown type ${indexed}`;
}

/** Our attributes as the namespace has them: missing, or clashing (registered with another type). */
async function compare(operator: OperatorService, namespace: string) {
  const { customAttributes } = await operator.listSearchAttributes({ namespace });
  const missing = UPGRADE_SEARCH_ATTRIBUTES.filter(({ name }) => customAttributes[name] === undefined);
  const clashes = UPGRADE_SEARCH_ATTRIBUTES.filter(
    ({ name, type }) => customAttributes[name] !== undefined && customAttributes[name] !== indexedType(type),
  ).map(
    ({ name, type }) =>
      `${name} is registered on namespace ${namespace} as ${typeNameOf(customAttributes[name])}, ` +
      `not ${searchAttributeTypeName(type)}`,
  );
  return { missing, clashes };
}

function clashError(clashes: string[]): ConfigError {
  return new ConfigError(
    `${clashes.join('; ')}: aegis-upgrade cannot use ${clashes.length > 1 ? 'them' : 'it'}. If nothing else uses ` +
      'such an attribute, remove it (`temporal operator search-attribute remove --name NAME`) and run ' +
      '`aegis-upgrade setup` again',
  );
}

/**
 * Registers the attributes the namespace lacks; those already there with our type are left as they are, so it can run
 * any number of times. One registered with another type is refused: an upgrade could not set it.
 */
export async function setUpSearchAttributes(
  operator: OperatorService,
  namespace: string,
): Promise<SearchAttributesSetup> {
  const { missing, clashes } = await compare(operator, namespace);
  if (clashes.length > 0) throw clashError(clashes);
  if (missing.length > 0) {
    await operator.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map(({ name, type }) => [name, indexedType(type)])),
    });
  }
  const registered = missing.map(({ name }) => name);
  const alreadyRegistered = UPGRADE_SEARCH_ATTRIBUTES.map(({ name }) => name).filter(
    (name) => !registered.includes(name),
  );
  return { namespace, registered, alreadyRegistered };
}

/**
 * A namespace's setting the worker needs, as ConfigError (one line, exit 2) when missing or clashing.
 * The worker's check at start: an upgrade would fail its workflow task on every attempt, stuck, if the namespace
 * lacked the attributes it upserts.
 */
export async function checkSearchAttributes(operator: OperatorService, namespace: string): Promise<void> {
  const { missing, clashes } = await compare(operator, namespace);
  if (clashes.length > 0) throw clashError(clashes);
  if (missing.length > 0) {
    throw new ConfigError(
      `Namespace ${namespace} lacks the search attributes ${missing.map(({ name }) => name).join(', ')} that ` +
        'upgrades keep their environment, versions and phase in: run `aegis-upgrade setup` once (with the same ' +
        'connection settings), then start the worker again',
    );
  }
}

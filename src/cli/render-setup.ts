import type { SearchAttributesSetup } from '../worker/search-attributes-registry';

/** What `setup` did on the namespace. */
export function renderSetup({ namespace, registered, alreadyRegistered }: SearchAttributesSetup): string {
  return [
    registered.length > 0 && `Registered on namespace ${namespace}: ${registered.join(', ')}`,
    alreadyRegistered.length > 0 && `Already registered on namespace ${namespace}: ${alreadyRegistered.join(', ')}`,
  ]
    .filter(Boolean)
    .join('\n');
}

import fs from 'node:fs';
import path from 'node:path';
import type { OperatorService } from '@temporalio/client';
import { ConfigError } from '../../src/config';
import {
  UPGRADE_SEARCH_ATTRIBUTES,
  searchAttributeTypeName,
  startSearchAttributes,
  upgradeSearchAttributes,
} from '../../src/core/search-attributes';
import { checkSearchAttributes, setUpSearchAttributes } from '../../src/worker/search-attributes-registry';
import { REPO_ROOT } from '../helpers/repo';

/** The server's numbers for the types (temporal.api.enums.v1.IndexedValueType). */
const KEYWORD = 2;
const INT = 3;

/** An operator service holding `custom` attributes; it records what is added. */
function operator(custom: Record<string, number>) {
  const added: Record<string, number>[] = [];
  const service = {
    listSearchAttributes: jest.fn(async () => ({ customAttributes: { ...custom }, systemAttributes: {} })),
    addSearchAttributes: jest.fn(async ({ searchAttributes }: { searchAttributes: Record<string, number> }) => {
      added.push(searchAttributes);
      Object.assign(custom, searchAttributes);
      return {};
    }),
  };
  return { service: service as unknown as OperatorService, added };
}

const NAMES = ['AegisEnvironment', 'AegisFromVersion', 'AegisToVersion', 'AegisPhase'];

describe('the search attributes', () => {
  it('are four Keywords', () => {
    expect(UPGRADE_SEARCH_ATTRIBUTES.map(({ name, type }) => `${name}=${searchAttributeTypeName(type)}`)).toEqual(
      NAMES.map((name) => `${name}=Keyword`),
    );
    expect(searchAttributeTypeName('KEYWORD_LIST')).toBe('KeywordList');
  });

  it('are those the dev server script starts with', () => {
    const script = fs.readFileSync(path.join(REPO_ROOT, 'scripts', 'dev-server.sh'), 'utf8');
    const loop = /for attribute in ([^;]+); do\n\s+args\+=\(--search-attribute "\$attribute=Keyword"\)/.exec(script);

    expect(loop?.[1]?.split(' ')).toEqual(NAMES);
  });

  it('say at start the environment and target; the workflow adds the from-version once known, and the phase', () => {
    const values = (pairs: { key: { name: string }; value: unknown }[]) =>
      Object.fromEntries(pairs.map(({ key, value }) => [key.name, value]));

    expect(values(startSearchAttributes('staging', '1.3.0'))).toEqual({
      AegisEnvironment: 'staging',
      AegisToVersion: '1.3.0',
    });
    expect(values(upgradeSearchAttributes({ environment: 'staging', toVersion: '1.3.0', phase: 'preflight' }))).toEqual(
      { AegisEnvironment: 'staging', AegisToVersion: '1.3.0', AegisPhase: 'preflight' },
    );
    expect(
      values(
        upgradeSearchAttributes({
          environment: 'staging',
          fromVersion: '1.2.0',
          toVersion: '1.3.0',
          phase: 'completed',
        }),
      ),
    ).toEqual({
      AegisEnvironment: 'staging',
      AegisFromVersion: '1.2.0',
      AegisToVersion: '1.3.0',
      AegisPhase: 'completed',
    });
  });
});

describe('setUpSearchAttributes', () => {
  it('registers what the namespace lacks, and nothing the second time', async () => {
    const { service, added } = operator({ CustomerId: INT, AegisEnvironment: KEYWORD });

    expect(await setUpSearchAttributes(service, 'aegis')).toEqual({
      namespace: 'aegis',
      registered: ['AegisFromVersion', 'AegisToVersion', 'AegisPhase'],
      alreadyRegistered: ['AegisEnvironment'],
    });
    expect(await setUpSearchAttributes(service, 'aegis')).toEqual({
      namespace: 'aegis',
      registered: [],
      alreadyRegistered: NAMES,
    });
    expect(added).toEqual([{ AegisFromVersion: KEYWORD, AegisToVersion: KEYWORD, AegisPhase: KEYWORD }]);
  });

  it('refuses an attribute of ours registered with another type, and registers nothing', async () => {
    const { service, added } = operator({ AegisPhase: INT });

    await expect(setUpSearchAttributes(service, 'aegis')).rejects.toThrow(
      new ConfigError(
        'AegisPhase is registered on namespace aegis as Int, not Keyword: aegis-upgrade cannot use it. If nothing ' +
          'else uses such an attribute, remove it (`temporal operator search-attribute remove --name NAME`) and run ' +
          '`aegis-upgrade setup` again',
      ),
    );
    expect(added).toEqual([]);
  });
});

describe('checkSearchAttributes (the worker, at start)', () => {
  it('passes when all are registered', async () => {
    const { service } = operator(Object.fromEntries(NAMES.map((name) => [name, KEYWORD])));
    await expect(checkSearchAttributes(service, 'default')).resolves.toBeUndefined();
  });

  it('names the missing ones and the command that registers them, and registers nothing itself', async () => {
    const { service, added } = operator({ AegisEnvironment: KEYWORD });

    await expect(checkSearchAttributes(service, 'default')).rejects.toThrow(
      'Namespace default lacks the search attributes AegisFromVersion, AegisToVersion, AegisPhase that upgrades ' +
        'keep their environment, versions and phase in: run `aegis-upgrade setup` once',
    );
    expect(added).toEqual([]);
  });
});

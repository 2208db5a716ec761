import { aegisUpgradeProgram } from '../../src/cli/program';
import { commandsUnder, helpOf } from '../helpers/command-tree';

describe('aegis-upgrade --help', () => {
  const all = commandsUnder(aegisUpgradeProgram(() => undefined));

  it('covers every command, groups and their commands alike', () => {
    expect(all.map(({ words }) => words)).toEqual(
      expect.arrayContaining(['start', 'schedule', 'schedule list', 'fleet abort', 'component start', 'worker']),
    );
  });

  it.each(all.map(({ words, command }) => [words, command] as const))(
    'of `%s` ends with an example of itself',
    (words, command) => {
      expect(helpOf(command)).toMatch(new RegExp(`\\nExample: (\\S+=\\S+ )*aegis-upgrade ${words}( |\\n)`));
    },
  );
});

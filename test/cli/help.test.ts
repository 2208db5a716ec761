import type { Command } from 'commander';
import { aegisUpgradeProgram } from '../../src/cli/program';

/** Every command under `command`, as the words that run it: `schedule list`, `fleet abort`, … */
function commandsUnder(command: Command, words: string[] = []): { words: string; command: Command }[] {
  return command.commands.flatMap((sub) => [
    { words: [...words, sub.name()].join(' '), command: sub },
    ...commandsUnder(sub, [...words, sub.name()]),
  ]);
}

/** What `aegis-upgrade <words> --help` prints. */
function helpOf(command: Command): string {
  let printed = '';
  command.configureOutput({ writeOut: (text) => (printed += text) });
  command.outputHelp();
  return printed;
}

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

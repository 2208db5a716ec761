import type { Command } from 'commander';
import { aegisUpgradeProgram } from '../../src/cli/program';

export interface CommandEntry {
  /** The words that run it: `schedule list`, `fleet abort`, … */
  words: string;
  command: Command;
}

/** Every command under `command`, groups and their commands alike. */
export function commandsUnder(command: Command, words: string[] = []): CommandEntry[] {
  return command.commands.flatMap((sub) => [
    { words: [...words, sub.name()].join(' '), command: sub },
    ...commandsUnder(sub, [...words, sub.name()]),
  ]);
}

/** The commands that run something (not a group such as `schedule`), as commander has them now. */
export function leafCommands(): CommandEntry[] {
  return commandsUnder(aegisUpgradeProgram(() => undefined)).filter(({ command }) => command.commands.length === 0);
}

/** What `aegis-upgrade <words> --help` prints. */
export function helpOf(command: Command): string {
  let printed = '';
  command.configureOutput({ writeOut: (text) => (printed += text) });
  command.outputHelp();
  return printed;
}

/** Words of a shell line: spaces split them, single or double quotes keep theirs (no escapes in our examples). */
function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: string | undefined;
  for (const char of line) {
    if (quote) {
      if (char === quote) quote = undefined;
      else word = (word ?? '') + char;
    } else if (char === "'" || char === '"') {
      quote = char;
      word = word ?? '';
    } else if (char === ' ') {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else word = (word ?? '') + char;
  }
  if (word !== undefined) words.push(word);
  return words;
}

/** The arguments of the example a command's help ends with, without the variables before it and the program's name. */
export function exampleArgs(command: Command): string[] {
  const line = helpOf(command)
    .split('\n')
    .find((text) => text.startsWith('Example: '));
  if (!line) throw new Error(`\`${command.name()} --help\` has no Example: line`);
  const words = shellWords(line.slice('Example: '.length));
  const program = words.indexOf('aegis-upgrade');
  if (program < 0) throw new Error(`The example of \`${command.name()}\` does not run aegis-upgrade: ${line}`);
  return words.slice(program + 1);
}

import { checkEachChangeOnce, parseCommandsRun } from './commands-run';

const journal = (...lines: string[][]) => lines.map((fields) => fields.join('\t')).join('\n');
const pull = 'podman pull --quiet 127.0.0.1:15100/100monkeys-ai/aegis-runtime:1.3.0 AEGIS_IMAGE_TAG=1.2.0';
const redeploy = 'make -C /deploy redeploy POD=core AEGIS_IMAGE_TAG=1.3.0';
const including = [/^podman pull .*\/aegis-runtime:1\.3\.0 /, /^make .* redeploy POD=core .*AEGIS_IMAGE_TAG=1\.3\.0$/];

describe('the journal of commands', () => {
  test('reads starts, holds and ends; a command killed with the worker has no exit code', () => {
    const runs = parseCommandsRun(
      journal(
        ['1', 'start', '-', pull],
        ['1', 'held'],
        ['2', 'start', '-', redeploy],
        ['3', 'start', '2', 'podman play kube x'],
        ['3', 'end', '0'],
        ['2', 'end', '0'],
      ),
    );
    expect(runs).toEqual([
      { id: '1', parent: undefined, command: pull, held: true },
      { id: '2', parent: undefined, command: redeploy, exitCode: 0, held: false },
      { id: '3', parent: '2', command: 'podman play kube x', exitCode: 0, held: false },
    ]);
    expect(() => parseCommandsRun(journal(['9', 'end', '0']))).toThrow('never started');
  });

  test('each change once passes; the same change succeeding twice fails, unless proven harmless after a kill', () => {
    const once = parseCommandsRun(
      journal(['1', 'start', '-', pull], ['1', 'end', '0'], ['2', 'start', '-', redeploy], ['2', 'end', '0']),
    );
    expect(checkEachChangeOnce(once, { killed: false, including })).toMatchObject({
      notHarmless: [],
      ranOnce: [{ once: true }, { once: true }],
      checked: { succeeded: 2, harmless: [] },
    });

    const twice = parseCommandsRun(
      journal(['1', 'start', '-', redeploy], ['1', 'end', '0'], ['2', 'start', '-', redeploy], ['2', 'end', '0']),
    );
    expect(checkEachChangeOnce(twice, { killed: true, including }).notHarmless).toEqual([`2× ${redeploy}`]);

    const stop = 'podman pod stop --ignore -t 10 aegis-core AEGIS_IMAGE_TAG=1.3.0';
    const stoppedAgain = parseCommandsRun(
      journal(['1', 'start', '-', stop], ['1', 'end', '0'], ['2', 'start', '-', stop], ['2', 'end', '0']),
    );
    expect(checkEachChangeOnce(stoppedAgain, { killed: true })).toMatchObject({
      notHarmless: [],
      checked: { harmless: ['a pod stopped for its redeploy'] },
    });
    expect(checkEachChangeOnce(stoppedAgain, { killed: false }).notHarmless).toEqual([`2× ${stop}`]);
  });

  test('commands that only look are not changes: make validate or registry-login in a checkout named deploy, pg_restore --list', () => {
    const looks = [
      'make -C /s/deployments/lane-2/deploy registry-login AEGIS_IMAGE_TAG=1.2.0',
      'make -C /s/deployments/lane-2/deploy validate AEGIS_IMAGE_TAG=1.2.0',
      'podman exec -i aegis-database-postgres pg_restore --list AEGIS_IMAGE_TAG=1.2.0',
    ];
    const runTwice = (commands: string[]) =>
      parseCommandsRun(
        journal(
          ...commands.flatMap((command, i) => [
            [`${i}a`, 'start', '-', command],
            [`${i}a`, 'end', '0'],
            [`${i}b`, 'start', '-', command],
            [`${i}b`, 'end', '0'],
          ]),
        ),
      );
    expect(checkEachChangeOnce(runTwice(looks), { killed: false })).toMatchObject({
      notHarmless: [],
      checked: { succeeded: 0 },
    });
    const changes = [
      'make -C /s/deploy redeploy POD=core AEGIS_IMAGE_TAG=1.2.0',
      'podman exec -i aegis-database-postgres pg_restore -U aegis -d aegis__restoring AEGIS_IMAGE_TAG=1.2.0',
    ];
    expect(checkEachChangeOnce(runTwice(changes), { killed: false }).notHarmless).toEqual(
      changes.map((command) => `2× ${command}`),
    );
  });

  test('a step the report lists must have run: once, or cut by the kill and its effect found by the retry', () => {
    const cut = parseCommandsRun(journal(['1', 'start', '-', pull], ['2', 'start', '-', redeploy], ['2', 'end', '0']));
    expect(checkEachChangeOnce(cut, { killed: true, including }).ranOnce.map(({ once }) => once)).toEqual([true, true]);
    expect(checkEachChangeOnce(cut, { killed: false, including }).ranOnce.map(({ once }) => once)).toEqual([
      false,
      true,
    ]);
    const never = parseCommandsRun(journal(['2', 'start', '-', redeploy], ['2', 'end', '0']));
    expect(checkEachChangeOnce(never, { killed: true, including }).ranOnce.map(({ once }) => once)).toEqual([
      false,
      true,
    ]);
    // A make's own podman commands are part of it, not the worker's changes.
    const nested = parseCommandsRun(
      journal(
        ['2', 'start', '-', redeploy],
        ['3', 'start', '2', stopOf('core')],
        ['3', 'end', '0'],
        ['4', 'start', '2', stopOf('core')],
        ['4', 'end', '0'],
        ['2', 'end', '0'],
      ),
    );
    expect(checkEachChangeOnce(nested, { killed: false }).notHarmless).toEqual([]);
  });
});

function stopOf(pod: string): string {
  return `podman pod stop aegis-${pod} AEGIS_IMAGE_TAG=1.3.0`;
}

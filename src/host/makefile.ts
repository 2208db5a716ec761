/** The deploy checkout's Makefile, read without running make: which targets it declares. */

/**
 * The targets an upgrade runs, and what for. `required` ones every upgrade runs; the others only the `full` strategy
 * (teardown, deploy, bootstrap) or the host binary's refresh.
 */
export const UPGRADE_MAKE_TARGETS = [
  { target: 'registry-login', required: true, use: 'pre-flight, and before each redeploy' },
  { target: 'redeploy', required: true, use: 'each pod, in rolling order, and the rollback' },
  { target: 'validate', required: true, use: 'the last step, and pre-flight' },
  { target: 'teardown', required: false, use: 'the full strategy' },
  { target: 'deploy', required: false, use: 'the full strategy' },
  { target: 'bootstrap-secrets', required: false, use: 'the full strategy, after deploy' },
  { target: 'install-cli', required: false, use: 'the host `aegis` binary, taken from the runtime image' },
] as const;

/** `name other: prerequisites`, at the start of a line; not `X := y`, `X ?= y`, nor a recipe (tab) or comment. */
const RULE = /^([^\s#=:$][^=:#$]*?)\s*::?(?!=)/;

/**
 * The targets the Makefile's rules name, special ones (`.PHONY`) left out. Targets written with a variable
 * (`$(POD):`) cannot be known without make and are left out too.
 */
export function makeTargets(makefile: string): Set<string> {
  const logicalLines = makefile.replace(/\\\n/g, ' ').split('\n');
  const targets = new Set<string>();
  for (const line of logicalLines) {
    const names = RULE.exec(line)?.[1];
    if (names === undefined || /^(include|-include|sinclude|export|override|define|ifn?eq|ifn?def)\b/.test(names)) {
      continue;
    }
    for (const name of names.split(/\s+/)) if (name && !name.startsWith('.')) targets.add(name);
  }
  return targets;
}

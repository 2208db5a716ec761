import { makeTargets } from '../../src/host/makefile';

describe('makeTargets', () => {
  it("reads a Makefile's rules, not its assignments, recipes, includes or special targets", () => {
    const makefile = [
      '.PHONY: deploy redeploy',
      'PROFILE ?= development',
      'PODS_DIR := ./podman/pods',
      'RECORD = if [ -n "$$X" ]; then echo a:b; fi',
      'include profiles/$(PROFILE).conf',
      '',
      '# ---- Deploy ----',
      'deploy: registry-login networks',
      '\t@echo "==> deploy: $(PROFILE)"',
      'redeploy validate:: registry-login',
      '\t@true',
      'registry-login:',
      '\t@set -a && . ./.env && \\',
      '\t  echo done:',
      '$(POD)-logs:',
    ].join('\n');

    expect([...makeTargets(makefile)].sort()).toEqual(['deploy', 'redeploy', 'registry-login', 'validate']);
  });

  it('joins a rule continued on the next line', () => {
    expect([...makeTargets('teardown \\\n  clean: status\n\t@true\n')]).toEqual(['teardown', 'clean']);
  });
});

const Sequencer = require('@jest/test-sequencer').default;

/**
 * The longest files first, so that the lanes end together: measured in CI (issue 20), where a new clone has no
 * timings of its own yet. Then Jest's own order (failed first, then by last duration or size).
 */
const LONGEST_FIRST = [
  'test/workflows/fault-matrix/forward-failures.int.test.ts',
  'test/workflows/fault-matrix/rollbacks.int.test.ts',
  'test/workflows/platform-components.int.test.ts',
  'test/workflows/fault-matrix/forward-kills.int.test.ts',
  'test/workflows/fault-matrix/lock-and-refusals.int.test.ts',
  'test/workflows/upgrade-platform.int.test.ts',
  'test/cli/operator.int.test.ts',
  'test/deployments.int.test.ts',
];

class LongestFirst extends Sequencer {
  async sort(tests) {
    const rank = (test) => {
      const index = LONGEST_FIRST.findIndex((file) => test.path.endsWith(file));
      return index === -1 ? LONGEST_FIRST.length : index;
    };
    const rest = await super.sort(tests.filter((test) => rank(test) === LONGEST_FIRST.length));
    return [...tests.filter((test) => rank(test) < LONGEST_FIRST.length).sort((a, b) => rank(a) - rank(b)), ...rest];
  }
}

module.exports = LongestFirst;

const fs = require('node:fs');
const path = require('node:path');

/**
 * Writes how long each test took, file by file, to .test-results/test-durations.json once the run ends: what a change
 * to the suite's speed is measured on (docs/benchmark.md). Jest prints them only for a run of one file.
 */
class DurationsReporter {
  constructor(globalConfig) {
    this.rootDir = globalConfig.rootDir;
  }

  onRunComplete(_contexts, results) {
    const files = results.testResults
      .map((file) => ({
        file: path.relative(this.rootDir, file.testFilePath),
        seconds: Math.round((file.perfStats.end - file.perfStats.start) / 100) / 10,
        tests: file.testResults
          .filter((test) => test.status !== 'pending')
          .map((test) => ({ name: test.fullName, status: test.status, seconds: (test.duration ?? 0) / 1000 })),
      }))
      .sort((a, b) => b.seconds - a.seconds);
    const out = path.join(this.rootDir, '.test-results', 'test-durations.json');
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, `${JSON.stringify({ endedAt: new Date().toISOString(), files }, null, 1)}\n`);
  }
}

module.exports = DurationsReporter;

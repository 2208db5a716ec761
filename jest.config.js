const fs = require('node:fs');
const path = require('node:path');

/** Packages that ship only ES modules (execa and its dependencies): Jest on Node 20 loads them compiled to CommonJS. */
function esModulePackages(dir = path.join(__dirname, 'node_modules')) {
  const names = [];
  for (const entry of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
    if (entry.startsWith('@')) {
      names.push(...esModulePackages(path.join(dir, entry)).map((name) => `${entry}/${name}`));
      continue;
    }
    const manifest = path.join(dir, entry, 'package.json');
    if (fs.existsSync(manifest) && JSON.parse(fs.readFileSync(manifest, 'utf8')).type === 'module') names.push(entry);
    names.push(...esModulePackages(path.join(dir, entry, 'node_modules')));
  }
  return names;
}

const shared = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
    '^.+\\.js$': [
      'ts-jest',
      { tsconfig: { allowJs: true, module: 'commonjs', target: 'ES2022' }, isolatedModules: true },
    ],
  },
  moduleNameMapper: { '^unicorn-magic$': '<rootDir>/node_modules/unicorn-magic/node.js' },
  transformIgnorePatterns: [`/node_modules/(?!(${esModulePackages().join('|')})/)`],
};

/** @type {import('jest').Config} */
module.exports = {
  testSequencer: '<rootDir>/jest.sequencer.js',
  reporters: ['default', '<rootDir>/jest.durations.js'],
  projects: [
    {
      ...shared,
      displayName: 'unit',
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      testPathIgnorePatterns: ['\\.int\\.test\\.ts$'],
    },
    // On the real Temporal server, podman and PostgreSQL. With several workers, each is a lane with a sandbox
    // deployment of its own (test/helpers/lane-setup.ts); in band, they share the main sandbox.
    {
      ...shared,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/**/*.int.test.ts'],
      globalSetup: '<rootDir>/test/helpers/integration-setup.ts',
      globalTeardown: '<rootDir>/test/helpers/integration-teardown.ts',
      setupFiles: ['<rootDir>/test/helpers/lane-setup.ts'],
    },
  ],
};

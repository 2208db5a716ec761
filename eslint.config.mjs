import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'node_modules/',
      '.sandbox/',
      'coverage/',
      '*.config.js',
      '*.config.mjs',
      'jest.sequencer.js',
      'jest.durations.js',
      'bin/',
      '.test-results/',
    ],
  },
  eslint.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      // A promise returned from inside try/finally must be awaited, or the finally (closing a connection) runs first.
      '@typescript-eslint/return-await': ['error', 'in-try-catch'],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
    },
  },
  {
    // Workflow code is replayed in a sandbox: it imports the workflow-safe core, its own folder, the SDK's workflow
    // packages, and activities as types only (proxyActivities<typeof activities>): no Node built-ins, no I/O.
    files: ['src/workflows/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^\\.\\./activities(/|$)',
              allowTypeImports: true,
              message: 'Workflow code imports activities as types only (`import type`): they run on the worker.',
            },
            {
              regex: '^\\.\\./(?!core/|activities(/|$))',
              message: 'Workflow code imports from src/ only the workflow-safe core (src/core/).',
            },
            {
              regex: '^(?!\\.\\.?/|@temporalio/(workflow|common)(/|$))',
              message:
                'Workflow code imports no package but @temporalio/workflow and @temporalio/common: no Node built-ins.',
            },
          ],
        },
      ],
    },
  },
  {
    // The core is bundled into the workflow sandbox with the workflows: it imports only itself and pure packages.
    files: ['src/core/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '^\\.\\./', message: 'The core imports only the core: workflow code imports it.' },
            {
              regex: '^(?!\\.\\.?/|@temporalio/(workflow|common)(/|$)|semver(/|$))',
              message: 'The core imports no package but @temporalio/workflow, @temporalio/common and semver.',
            },
          ],
        },
      ],
    },
  },
  {
    // The CLI never loads activity code (pg, execa): `aegis-upgrade worker` imports the worker when it runs.
    files: ['src/cli/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^\\.\\./(activities|host)(/|$)',
              message: 'The CLI never imports activity code (activities/, host/).',
            },
          ],
        },
      ],
    },
  },
);

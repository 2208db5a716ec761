import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

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
    // Workflow code is replayed in a sandbox: no Node built-ins, no I/O.
    files: ['src/workflows/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: [...builtinModules, ...builtinModules.map((name) => `node:${name}`)] },
      ],
    },
  },
);

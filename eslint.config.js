import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { boundaries } from './eslint/boundaries.js';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'data/**', '**/drizzle/meta/**', 'apps/web/dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-empty': ['error', { allowEmptyCatch: false }],
      'no-restricted-syntax': ['error', { selector: 'ExportDefaultDeclaration', message: 'No default exports (docs/architecture.md#conventions-in-the-code).' }],
    },
  },
  {
    // The architecture's import boundaries (eslint/boundaries.js; shown to catch what they claim in test/lint/).
    files: ['**/*.ts', '**/*.tsx', '**/*.js'],
    plugins: { agora: boundaries },
    rules: { 'agora/no-cross-service-import': 'error', 'agora/domain-no-io': 'error' },
  },
  { files: ['eslint.config.js', 'vitest.config.ts', '**/vite.config.ts', '**/drizzle.config.ts'], rules: { 'no-restricted-syntax': 'off' } },
  { files: ['**/*.js'], languageOptions: { globals: { process: 'readonly', URL: 'readonly', console: 'readonly' } } },
);

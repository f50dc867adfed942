/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // Type-checking happens once in `npm test` (tsc --noEmit); swc only strips types, so it is fast.
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  snapshotSerializers: ['<rootDir>/test/setup/asset-hash-serializer.ts'],
  // One private MariaDB server (TLS, require_secure_transport) and one build of the handler
  // bundles for the whole run; see test/support/.
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 20_000,
  reporters: ['default', '<rootDir>/test/setup/summary-reporter.js'],
};

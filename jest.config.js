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
  // Most suites wait on the database (lock waits, server bounds, 40 simulated environments), not
  // on the CPU: three workers on two cores take the run from about 66 s to about 39 s. Each
  // suite's schema and each private server's tmpdir are its own, so they do not interfere.
  maxWorkers: 3,
  // For hangs only: a test or hook that runs this long is stuck. Never a speed check: on a loaded
  // 2-core machine a suite that starts 46 environments takes several times its quiet time.
  testTimeout: 120_000,
  reporters: ['default', '<rootDir>/test/setup/summary-reporter.js'],
};

/** Jest projects: unit (pure, fast), integration and contract (real PostgreSQL, Redis, HTTP, sockets). */
const tsJest = ['ts-jest', { diagnostics: false }];
const common = { testEnvironment: 'node', testTimeout: 60000, transform: { '^.+\\.ts$': tsJest }, moduleFileExtensions: ['ts', 'js', 'json'] };
module.exports = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/tests/unit/**/*.test.ts'] },
    { ...common, displayName: 'integration', testMatch: ['<rootDir>/tests/integration/**/*.test.ts'], slowTestThreshold: 30 },
    { ...common, displayName: 'contract', testMatch: ['<rootDir>/tests/contract/**/*.test.ts'] },
  ],
  testTimeout: 60000,
};

/** The package version; kept in step with package.json by test/unit/version.test.ts. */
export const VERSION = '1.0.0';

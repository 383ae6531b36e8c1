import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The usual order, except that the Debian package's test comes last: it installs the package
 * (/etc/barmanapi.conf, /usr/bin/barmanapi) and purges it again, and no other suite may run
 * while those files are there.
 */
export class PackageLastSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const last = (f: TestSpecification) => (f.moduleId.endsWith('/test/integration/deb.test.ts') ? 1 : 0);
    return [...sorted].sort((a, b) => last(a) - last(b));
  }
}

import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * An executable `<root>/<name>/barman` that answers -v and --help from the real barman (so the
 * command catalogue is barman's own) and runs `body` (sh) for anything else. Readable and
 * runnable by the barman user, so it serves over SSH too.
 */
export function standInBarman(root: string, name: string, body: string): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  const path = join(dir, 'barman');
  writeFileSync(
    path,
    `#!/bin/sh
if [ "$3" = "-v" ] || [ "$3" = "--help" ] || { [ "$#" -eq 4 ] && [ "$4" = "--help" ]; }; then exec /usr/bin/barman "$@"; fi
${body}
`,
  );
  chmodSync(path, 0o755);
  return path;
}

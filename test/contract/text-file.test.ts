import { chmod, chown, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryTextFile } from '../../adapters/memory/storage.js';
import { createFsTextFile } from '../../adapters/node/fs-storage.js';
import { textFileContract } from './text-file.js';

textFileContract('memory', { ownership: false, lock: false }, async (initial) => ({
  file: createMemoryTextFile('/usr/share/barmanapi/client.conf', initial),
}));

const root = process.getuid?.() === 0;

textFileContract('file system', { ownership: true, lock: true }, async (initial) => {
  const dir = await mkdtemp(join(tmpdir(), 'barmanapi-contract-textfile-'));
  const path = join(dir, 'client.conf');
  if (initial !== null) await writeFile(path, initial, { mode: 0o600 });
  return {
    file: createFsTextFile(path),
    posix: {
      newFileMode: 0o600,
      otherOwner: root ? { uid: 65534, gid: 65534 } : null,
      async setOwnership(mode, owner) {
        await chmod(path, mode);
        if (owner) await chown(path, owner.uid, owner.gid);
      },
      async ownership() {
        const s = await stat(path);
        return { mode: s.mode, uid: s.uid, gid: s.gid };
      },
    },
    close: () => rm(dir, { recursive: true, force: true }),
  };
});

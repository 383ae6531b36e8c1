import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryStorage } from '../../adapters/memory/storage.js';
import { createFsStorage } from '../../adapters/node/fs-storage.js';
import { storageContract } from './storage.js';

storageContract('memory', async () => ({ storage: createMemoryStorage() }));

storageContract('file system', async () => {
  const root = await mkdtemp(join(tmpdir(), 'barmanapi-contract-store-'));
  await chmod(root, 0o700);
  return { storage: createFsStorage(root), close: () => rm(root, { recursive: true, force: true }) };
});

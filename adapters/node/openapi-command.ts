/**
 * `barmanapi openapi`: the API's OpenAPI document on standard output, as /api/v1/openapi.json
 * serves it, from an app on memory adapters: the document depends on no settings.
 */
import { createApi } from '../../src/app.js';
import { loadSettings } from '../../src/settings/load.js';
import { createMemoryLogger, createMemoryStorage, createMemoryTextFile, createScriptedHost } from '../memory/index.js';

export async function printOpenApiDocument(): Promise<number> {
  const api = createApi({
    settings: loadSettings({ text: '', path: null }),
    storage: createMemoryStorage(),
    host: createScriptedHost(),
    clock: { now: () => new Date() },
    logger: createMemoryLogger(),
    usersFile: createMemoryTextFile('client.conf', ''),
  });
  process.stdout.write(`${JSON.stringify(await api.v1.document(), null, 2)}\n`);
  return 0;
}

import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { DocsAssets } from '../../src/ports.js';
import { DOCS_FILES } from '../../src/api/v1/docs.js';

/** The single binary's own copies of the docs page's files (paths inside it), by name. */
let embedded: Readonly<Record<string, string>> | null = null;

/** Set by the single binary's entry, before anything is served: the files come from inside it. */
export function embedDocsAssets(files: Readonly<Record<string, string>>): void {
  embedded = files;
}

/**
 * The docs page's files: inside the single binary, or from the installed swagger-ui-dist package.
 * Read on first request, then kept (about 2 MB, only once someone opened the page).
 */
export function nodeDocsAssets(): DocsAssets {
  const kept = new Map<string, Promise<Uint8Array | null>>();
  return (name) => {
    if (!Object.hasOwn(DOCS_FILES, name)) return Promise.resolve(null);
    let bytes = kept.get(name);
    if (!bytes) {
      bytes = readAsset(name);
      kept.set(name, bytes);
      bytes.catch(() => kept.delete(name));
    }
    return bytes;
  };
}

async function readAsset(name: string): Promise<Uint8Array | null> {
  const path = embedded ? embedded[name] : join(dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json')), name);
  if (!path) return null;
  return new Uint8Array(await readFile(path));
}

/**
 * Receivers are named by an id: an HMAC of the URL under a key kept in the store, so an id shown
 * through the API cannot be matched offline against guesses of a credential in the URL.
 */
import type { Logger, Storage } from '../ports.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, randomBytes, utf8ToBytes } from '@noble/hashes/utils.js';

const KEY_FILE = 'webhooks/receiver-ids.key';

const isKey = (text: string) => /^[0-9a-f]{64}$/.test(text);

/**
 * The store's key for receiver ids: made once (32 random bytes, hex), then read. A store that
 * cannot keep it (a full disk) gets a key for this run only, said in the log: ids change at the
 * next start, and deliveries waiting for the old ones are given up then.
 */
export async function receiverKey(storage: Storage, logger: Logger): Promise<Uint8Array> {
  const read = async () => (await storage.readText(KEY_FILE).catch(() => null))?.trim() ?? '';
  let hex = await read();
  if (!isKey(hex)) {
    const made = bytesToHex(randomBytes(32));
    try {
      // Two first uses at once: one file wins, both read it. A damaged file is replaced.
      if (hex !== '') await storage.writeAtomic(KEY_FILE, `${made}\n`);
      hex = hex !== '' || (await storage.createExclusive(KEY_FILE, `${made}\n`)) ? made : await read();
    } catch (err) {
      hex = made;
      logger.log('warn', `webhooks: ${KEY_FILE} could not be written; receiver ids hold for this run only`, { error: String((err as Error).message ?? err) });
    }
    if (!isKey(hex)) throw new Error(`${KEY_FILE} holds no key`);
  }
  return hexToBytes(hex);
}

/** 12 hex digits naming `url`. */
export function receiverIdOf(key: Uint8Array, url: string): string {
  return bytesToHex(hmac(sha256, key, utf8ToBytes(url)).slice(0, 6));
}

/** Receivers' ids, worked out once per URL. */
export class ReceiverIds {
  private readonly ids = new Map<string, string>();
  private key: Promise<Uint8Array> | null = null;

  constructor(
    private readonly storage: Storage,
    private readonly logger: Logger,
  ) {}

  async of(url: string): Promise<string> {
    let id = this.ids.get(url);
    if (id === undefined) {
      this.key ??= receiverKey(this.storage, this.logger).catch((err: unknown) => {
        this.key = null; // tried again at the next use
        throw err;
      });
      id = receiverIdOf(await this.key, url);
      this.ids.set(url, id);
    }
    return id;
  }

  /** The ids of `urls` worked out so far. */
  known(urls: readonly string[]): string[] {
    return urls.flatMap((url) => this.ids.get(url) ?? []);
  }

  /** The URL of `receiver` among `urls`; null when none is its. */
  async urlOf(receiver: string, urls: readonly string[]): Promise<string | null> {
    for (const url of urls) if ((await this.of(url)) === receiver) return url;
    return null;
  }
}

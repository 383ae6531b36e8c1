import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, ROOT } from './support.js';

export const PRISM = join(ROOT, 'node_modules', '.bin', 'prism');

export interface ValidatingProxy {
  /** The proxy's address: a request to `${baseUrl}/api/v1/me` reaches `${upstream}/api/v1/me`. */
  baseUrl: string;
  /** Requests or answers that did not fit the document, as Prism logged them. */
  mismatches(): string[];
  /** How many requests went through. */
  requests(): number;
  stop(): Promise<void>;
}

/**
 * Prism (`prism proxy --errors`) in front of an API, with the document that API serves: each
 * request it passes on and each answer it passes back is checked against the document, and any
 * mismatch becomes an error answer (and a log line) instead of the API's.
 */
export async function startValidatingProxy(upstream: string): Promise<ValidatingProxy> {
  const res = await fetch(`${upstream}/api/v1/openapi.json`);
  if (res.status !== 200) throw new Error(`${upstream}/api/v1/openapi.json answered ${res.status}`);
  const dir = mkdtempSync(join(tmpdir(), 'barmanapi-prism-'));
  const doc = join(dir, 'openapi.json');
  writeFileSync(doc, await res.text());
  const port = await freePort();
  const child = spawn(PRISM, ['proxy', doc, upstream, '--errors', '--host', '127.0.0.1', '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`prism did not listen within 60 s:\n${log}`)), 60_000);
    const onData = (d: Buffer) => {
      log += d;
      if (/Prism is listening on/.test(log)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`prism exited (${code}) before listening:\n${log}`));
    });
  });
  const lines = () => log.split('\n');
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    mismatches: () => lines().filter((l) => /✖|violation|VIOLATIONS|UNPROCESSABLE/i.test(l)),
    requests: () => lines().filter((l) => /\[HTTP SERVER\] \w+ \S+ ℹ  info\s+Request received/.test(l)).length,
    async stop() {
      if (child.exitCode === null) {
        const gone = new Promise((r) => child.on('exit', r));
        child.kill('SIGTERM');
        await gone;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { shellJoin, shellQuote } from '../../src/util/shell-quote.js';
import { HOSTILE_WORDS } from '../support/hostile.js';

const hostile = [...HOSTILE_WORDS];

/** Deterministic pseudo-random words: any code point except NUL and lone surrogates. */
function randomWords(count: number, seed: number): string[] {
  let state = seed >>> 0;
  const next = (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state;
  };
  const words: string[] = [];
  for (let i = 0; i < count; i++) {
    const length = next() % 40;
    let word = '';
    for (let j = 0; j < length; j++) {
      const bucket = next() % 4;
      let cp: number;
      if (bucket === 0) cp = 1 + (next() % 0x7f); // ASCII incl. controls and all punctuation
      else if (bucket === 1) cp = 0x80 + (next() % 0x780); // two-byte UTF-8
      else if (bucket === 2) cp = 0x800 + (next() % (0xd800 - 0x800)); // three-byte, below surrogates
      else cp = 0x10000 + (next() % 0xfffff); // astral planes
      word += String.fromCodePoint(cp);
    }
    words.push(word);
  }
  return words;
}

/** Run `printf '%s\0' <quoted words>` in a real shell and split what comes back. */
function echoThroughShell(shell: string, argv: string[]): Buffer[] {
  const out = execFileSync(shell, ['-c', `printf '%s\\0' ${shellJoin(argv)}`], {
    maxBuffer: 64 * 1024 * 1024,
  });
  const words: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < out.length; i++) {
    if (out[i] === 0) {
      words.push(out.subarray(start, i));
      start = i + 1;
    }
  }
  expect(start).toBe(out.length);
  return words;
}

/** Groups words so no single `sh -c` script goes near the kernel's per-argument limit (128 KiB). */
function batches(words: string[], maxBytes = 60_000): string[][] {
  const result: string[][] = [];
  let current: string[] = [];
  let size = 0;
  for (const word of words) {
    const bytes = Buffer.byteLength(word) + 8;
    if (current.length > 0 && size + bytes > maxBytes) {
      result.push(current);
      current = [];
      size = 0;
    }
    current.push(word);
    size += bytes;
  }
  if (current.length > 0) result.push(current);
  return result;
}

const shells = ['/bin/sh', '/bin/bash', '/bin/dash'].filter((s) => existsSync(s));

describe('shellQuote', () => {
  it('single-quotes every word, even a safe one', () => {
    expect(shellQuote('list-server')).toBe("'list-server'");
    expect(shellQuote('')).toBe("''");
  });

  it("turns a single quote into '\\''", () => {
    expect(shellQuote("it's")).toBe("'it'\\''s'");
  });

  it('refuses NUL, which no argv can carry', () => {
    expect(() => shellQuote('a\0b')).toThrow(/NUL/);
    expect(() => shellJoin(['ok', 'a\0b'])).toThrow(/NUL/);
  });

  it('joins words with single spaces', () => {
    expect(shellJoin(['barman', 'backup', 'main db'])).toBe("'barman' 'backup' 'main db'");
    expect(shellJoin([])).toBe('');
  });
});

describe.each(shells)('words survive %s byte-for-byte', (shell) => {
  it('the hostile corpus', () => {
    for (const batch of batches(hostile)) {
      const back = echoThroughShell(shell, batch);
      expect(back.map((b) => b.toString('hex'))).toEqual(batch.map((w) => Buffer.from(w).toString('hex')));
    }
  });

  it('500 random words of arbitrary code points', () => {
    const words = randomWords(500, 0xba5e);
    for (const batch of batches(words)) {
      const back = echoThroughShell(shell, batch);
      expect(back.map((b) => b.toString('hex'))).toEqual(batch.map((w) => Buffer.from(w).toString('hex')));
    }
  });

  it('a command substitution in a word never runs', () => {
    const back = echoThroughShell(shell, ['$(echo pwned)', '`echo pwned`', "'; echo pwned; '"]);
    expect(back.map(String)).toEqual(['$(echo pwned)', '`echo pwned`', "'; echo pwned; '"]);
  });
});

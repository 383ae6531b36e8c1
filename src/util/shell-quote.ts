/**
 * Quoting for the one place a shell still reads our words: the command string of an SSH exec
 * request, which the remote login shell (POSIX sh family) parses.
 */

/**
 * One word as a POSIX single-quoted string. Every word is quoted, safe-looking or not, so the
 * output has one shape and nothing depends on a list of "safe" characters. Inside single quotes
 * nothing is special except the quote itself, which becomes `'\''` (close, escaped quote, reopen).
 */
export function shellQuote(word: string): string {
  if (word.includes('\0')) {
    // A C string (argv, the exec request) cannot carry NUL; refusing beats silently cutting.
    throw new TypeError('shellQuote: a shell word cannot contain a NUL character');
  }
  return `'${word.replaceAll("'", "'\\''")}'`;
}

/** A whole argv as one command line, each word quoted by shellQuote and joined by single spaces. */
export function shellJoin(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}

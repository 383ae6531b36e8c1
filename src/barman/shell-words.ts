/** Words of a command line read the way a POSIX shell reads plain words, refusing what needs a real shell. */

export class ShellWordsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShellWordsError';
  }
}

/** Characters that would mean shell syntax (expansion, pipes, redirection, globbing) outside quotes. */
const UNQUOTED_SHELL_SYNTAX = new Set(['$', '`', ';', '&', '|', '<', '>', '(', ')', '*', '?', '{', '}']);

/**
 * Split a command line into words the way a POSIX shell would for plain words: blanks separate,
 * single quotes are literal, double quotes allow `\` before `"`, `\`, `$`, `` ` `` and newline,
 * a backslash outside quotes escapes the next character. Anything that needs a real shell
 * (expansion, substitution, pipes, globs, comments) is an error rather than a guess.
 */
export function splitLikeShell(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let i = 0;
  while (i < line.length) {
    const ch = line[i]!;
    if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
      continue;
    }
    if (ch === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new ShellWordsError(`unterminated single quote in ${JSON.stringify(line)}`);
      word += line.slice(i + 1, end);
      inWord = true;
      i = end + 1;
      continue;
    }
    if (ch === '"') {
      i++;
      let closed = false;
      while (i < line.length) {
        const c = line[i]!;
        if (c === '"') {
          closed = true;
          i++;
          break;
        }
        if (c === '$' || c === '`') {
          throw new ShellWordsError(`shell expansion (${c}) is not supported in ${JSON.stringify(line)}`);
        }
        if (c === '\\' && i + 1 < line.length && '"\\$`\n'.includes(line[i + 1]!)) {
          if (line[i + 1] !== '\n') word += line[i + 1];
          i += 2;
          continue;
        }
        word += c;
        i++;
      }
      if (!closed) throw new ShellWordsError(`unterminated double quote in ${JSON.stringify(line)}`);
      inWord = true;
      continue;
    }
    if (ch === '\\') {
      if (i + 1 >= line.length) throw new ShellWordsError(`trailing backslash in ${JSON.stringify(line)}`);
      if (line[i + 1] !== '\n') word += line[i + 1];
      inWord = true;
      i += 2;
      continue;
    }
    if (UNQUOTED_SHELL_SYNTAX.has(ch) || (ch === '#' && !inWord)) {
      throw new ShellWordsError(
        `shell syntax '${ch}' is not supported in ${JSON.stringify(line)}; quote the word if it is literal`,
      );
    }
    word += ch;
    inWord = true;
    i++;
  }
  if (inWord) words.push(word);
  return words;
}


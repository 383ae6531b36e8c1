/**
 * Words that would do damage or get mangled if quoting or argv handling were wrong. Every one
 * must reach the other side as exactly one word, byte for byte (NUL is tested separately: it
 * cannot be part of an argv word at all).
 */
export const HOSTILE_WORDS: readonly string[] = [
  '',
  ' ',
  ';id',
  '$(id)',
  '`id`',
  '${HOME}',
  '$HOME',
  'a b',
  'a\tb',
  "'",
  "''",
  "'\\''",
  '"',
  '\\',
  '\\\\n',
  'line1\nline2',
  '\r\n',
  '*',
  '?',
  '[a-z]',
  '~root',
  '~',
  '--config=/tmp/x',
  '-h',
  '-n',
  '-e',
  '|',
  '&&',
  '|&;<>()',
  '>/tmp/owned',
  '</dev/null',
  '<&0',
  '#comment',
  '!',
  '!!',
  '%s',
  "it's \"quoted\" and `ticked` and $(sub) and \\ back",
  'héllo wörld',
  '日本語のテキスト',
  '🐘 elephant',
  '\u200b\u202e\ufeff',
  '\x01\x02\x07\x1b[31m\x7f',
  'x'.repeat(10_000),
  '€'.repeat(10_000),
];

/**
 * The words the API passes on. Values with a control character (C0, DEL, C1, U+2028/U+2029) are
 * refused before barman runs: barman writes some values into files (recover's target_name lands
 * in postgresql.auto.conf), where a line break would add a line of the caller's choosing.
 */
// eslint-disable-next-line no-control-regex
export const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
export const PRINTABLE_HOSTILE_WORDS: readonly string[] = HOSTILE_WORDS.filter((w) => !CONTROL_CHARACTER.test(w));
export const CONTROL_WORDS: readonly string[] = [
  ...HOSTILE_WORDS.filter((w) => CONTROL_CHARACTER.test(w)),
  'a\0b', 'x\u0085y', 'x\u2028y', 'x\u2029y', 'name\nrestore_command = \'touch /tmp/owned\'', '\u009b31m',
];

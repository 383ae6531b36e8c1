import { badRequest } from '../http/errors.js';

/**
 * C0 (line breaks, tab, NUL …), DEL, C1, and the Unicode line and paragraph separators: each can
 * end a line in some reader of the value (configparser, PostgreSQL's conf parser, a log viewer),
 * so none of them may reach barman's argv or a config file.
 */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** The first control character of `value` as `U+000A`, or null. */
export function controlCharacter(value: string): string | null {
  const m = CONTROL.exec(value);
  return m ? `U+${m[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}` : null;
}

/** 400 naming the parameter when `value` holds a control character. */
export function refuseControlCharacters(parameter: string, value: string, what = 'values'): void {
  const code = controlCharacter(value);
  if (code) {
    throw badRequest(`parameter "${parameter}" contains a line break or control character (${code}); ${what} are single lines of printable text`, {
      parameter,
      allowed: ['text without control characters (C0, DEL, C1, U+2028, U+2029)'],
    });
  }
}

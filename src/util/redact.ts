/** Removes secrets from text that goes to a log or a response. */
const PATTERNS: Array<[RegExp, string]> = [
  [/([?&](?:token|ticket|password|secret)=)[^&\s#"]*/gi, '$1***'],
  [/(authorization:\s*(?:basic|bearer|barman)\s+)\S+/gi, '$1***'],
  [/("?(?:password|secret|token|passphrase)"?\s*[:=]\s*)("[^"]*"|'[^']*'|[^\s,}&]+)/gi, '$1***'],
  [/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/g, '***'],
  [/pbkdf2-sha256\$[^\s"']+/g, '***'],
];

/**
 * Every pattern above needs one of these words (not already followed by a mask); most log lines
 * have none and skip the rest.
 */
const ANY = /(?:token|ticket|password|secret|passphrase)(?!"?\s*[:=]\s*"?\*\*\*)|authorization|eyJ|pbkdf2/i;

export function redact(text: string): string {
  if (!ANY.test(text)) return text;
  let out = text;
  for (const [re, by] of PATTERNS) out = out.replace(re, by);
  return out;
}

const SECRET_NAME = /token|ticket|passw|secret|passphrase|key|conninfo|urls/i;
const SECRET_VALUE = /passw|secret|:\/\/[^/@\s]*:[^/@\s]*@/i;

/**
 * A query string for a log line: names and values are decoded first (so `passwor%64=` is seen as
 * `password=`), and the value of any parameter whose name or value looks secret is masked.
 */
export function redactQuery(query: string): string {
  // Most queries (a token, a server name) have nothing to decode: they are split here as
  // URLSearchParams splits them (one leading '?' dropped, empty pieces skipped, the name up to
  // the first '='), and the value of a secret name is not even looked at. Anything with
  // something to decode goes through URLSearchParams.
  const out: string[] = [];
  for (let start = query.charCodeAt(0) === 63 ? 1 : 0, stop; start <= query.length; start = stop + 1) {
    stop = query.indexOf('&', start);
    if (stop < 0) stop = query.length;
    if (stop === start) continue;
    const piece = query.slice(start, stop);
    const eq = piece.indexOf('=');
    const name = eq < 0 ? piece : piece.slice(0, eq);
    if (!PLAIN_QUERY.test(name)) return redactDecodedQuery(query);
    if (SECRET_NAME.test(name)) {
      out.push(`${encodeURIComponent(name)}=***`);
      continue;
    }
    const value = eq < 0 ? '' : piece.slice(eq + 1);
    if (!PLAIN_QUERY.test(value)) return redactDecodedQuery(query);
    out.push(`${encodeURIComponent(name)}=${SECRET_VALUE.test(value) ? '***' : encodeURIComponent(value)}`);
  }
  return out.join('&');
}

/** Printable ASCII but `%` and `+`: text made of these decodes to itself. */
const PLAIN_QUERY = /^[!-$&-*,-~]*$/;

function redactDecodedQuery(query: string): string {
  const out: string[] = [];
  for (const [name, value] of new URLSearchParams(query)) {
    const masked = SECRET_NAME.test(name) || SECRET_VALUE.test(value);
    out.push(`${encodeURIComponent(name)}=${masked ? '***' : encodeURIComponent(value)}`);
  }
  return out.join('&');
}

/**
 * `scheme://user:password@host…` (libpq's postgresql:// and postgres://, and any other scheme).
 * The password runs to the last `@` of the word: libpq wants `@` in it percent-encoded, but a
 * hand-written one should still not show. A quote counts as part of it unless it ends the word,
 * where it is the quote barman strips around the whole value.
 */
const URI_PASSWORD = /(\b[A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s'"/?#@:]*:)(?:[^\s'"]|['"](?=\S))+@/g;
/** `?password=…` or `&sslpassword=…` in a URI's query: the value ends at `&` or `#`. */
const QUERY_PASSWORD = /([?&][^\s'"=&#]*password=)(?:[^\s'"&#]|['"](?=[^\s&#]))*/gi;
/**
 * `password=…` in libpq's keyword/value form (and `PGPASSWORD=…` in a command): a single-quoted
 * value (an unclosed one to the end of its line), or an unquoted one, which for libpq ends only
 * at unescaped white space.
 */
const KEYWORD_PASSWORD = /(?<![?&\w])(\w*password[ \t]*=[ \t]*)(?:'(?:[^'\\\n]|\\.)*(?:'|$)|(?:\\.|[^\s\\'"]|['"](?=\S))+)/gim;

/**
 * Hide passwords inside connection strings (`conninfo = host=pg password=secret`,
 * `conninfo = postgresql://barman:secret@pg/postgres`), keeping the rest readable. The one
 * function every response that shows barman's configuration uses: values, diffs, messages.
 */
export function redactValue(value: string): string {
  return value
    .replace(URI_PASSWORD, '$1***@')
    .replace(QUERY_PASSWORD, '$1***')
    .replace(KEYWORD_PASSWORD, '$1***');
}

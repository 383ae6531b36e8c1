import type { Context } from 'hono';
import { ApiError, badRequest } from './errors.js';
import { concatBytes } from '../util/bytes.js';

export type ParamValue = string | number | boolean | Array<string | number | boolean>;
export type Params = Record<string, ParamValue>;

const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Request parameters: the query string (legacy; repeated names become arrays) merged with a JSON
 * object body for POST/PUT/PATCH (the body wins). `token` is removed: it is never a parameter.
 */
export async function readParams(c: Context): Promise<Params> {
  const q = c.req.url.indexOf('?');
  const params: Params = q >= 0 ? decodeForm(c.req.url.slice(q + 1).replace(/#.*$/, '')) : {};
  if (['POST', 'PUT', 'PATCH', 'DELETE'].includes(c.req.method)) Object.assign(params, await readJsonBody(c));
  delete params.token;
  return params;
}

/** The body's parameters alone (a form or a JSON object), never the query string's. */
export function readBodyParams(c: Context): Promise<Params> {
  return readJsonBody(c);
}

/** The body as text: at most 1 MiB, valid UTF-8. */
async function readBodyText(c: Context): Promise<string> {
  const tooLarge = () => new ApiError(413, 'PayloadTooLarge', `request body too large: at most ${MAX_BODY_BYTES} bytes`, { limit: MAX_BODY_BYTES });
  if (Number(c.req.header('content-length') ?? '0') > MAX_BODY_BYTES) throw tooLarge();
  // Read with a running count: a chunked body has no Content-Length to check up front.
  const chunks: Uint8Array[] = [];
  let size = 0;
  const body = c.req.raw.body;
  if (body) {
    for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) throw tooLarge();
      chunks.push(chunk);
    }
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(concatBytes(chunks));
  } catch {
    throw badRequest('request body is not valid UTF-8');
  }
}

/** A JSON body as it is (nested objects included), within the same bounds; undefined when empty. */
export async function readJsonValue(c: Context): Promise<unknown> {
  const text = await readBodyText(c);
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw badRequest('request body is not valid JSON');
  }
}

async function readJsonBody(c: Context): Promise<Params> {
  const text = await readBodyText(c);
  if (text.trim() === '') return {};
  // The media type itself, not a parameter of it that happens to name a form.
  const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/x-www-form-urlencoded') return decodeForm(text);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw badRequest('request body is not valid JSON: send a JSON object, e.g. {"server_name":"pg"}');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw badRequest('request body must be a JSON object of parameters');
  }
  const out: Params = {};
  for (const [k, v] of Object.entries(parsed)) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = v;
    else if (Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean')) out[k] = v;
    else throw badRequest(`parameter ${k}: expected a string, number, boolean or a list of them`, { parameter: k });
  }
  return out;
}

/**
 * `a=1&b=2&a=3` → {a: ['1','3'], b: '2'}. Percent escapes must spell UTF-8: anything else is a
 * 400, never a value silently changed on its way to barman.
 */
/** The query string's parameters alone (repeated names become arrays): what the v1 reads take. */
export function queryParams(c: Context): Params {
  const q = c.req.url.indexOf('?');
  return q >= 0 ? decodeForm(c.req.url.slice(q + 1).replace(/#.*$/, '')) : {};
}

function decodeForm(text: string): Params {
  const out: Params = {};
  for (const part of text.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const rawName = eq >= 0 ? part.slice(0, eq) : part;
    const name = decodePart(rawName, rawName);
    const value = decodePart(eq >= 0 ? part.slice(eq + 1) : '', name);
    const seen = out[name];
    out[name] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
  }
  return out;
}

function decodePart(raw: string, parameter: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    throw badRequest(`parameter ${parameter.slice(0, 64)}: not valid percent-encoded UTF-8`, { parameter: parameter.slice(0, 64) });
  }
}

/** One string parameter, or undefined; an array where one value is expected is an error. */
export function single(params: Params, name: string): string | undefined {
  const v = params[name];
  if (v === undefined) return undefined;
  if (Array.isArray(v)) throw badRequest(`parameter ${name} given more than once; expected one value`, { parameter: name });
  return String(v);
}

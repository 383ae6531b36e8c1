/**
 * Request parameters described as zod schemas: the one description that validates a request
 * and, for the API document, says what a route takes. Legacy routes take their parameters from
 * the query string, a form or a JSON object alike, so a schema reads them as text (a JSON number
 * or boolean as its text; a repeated name as a list), exactly as a query string carries them.
 *
 * Failures are the API's own 400s, naming the parameter: `unknown parameter X; allowed: …`,
 * `parameter X given more than once; expected one value`, `parameter X <what it must be>`.
 */
import type * as z from 'zod';
import { badRequest, type ApiError } from './errors.js';
import type { Params } from './params.js';
import { FALSE_WORDS, TRUE_WORDS } from '../util/truth.js';

type Zod = typeof import('zod');

/**
 * zod is loaded with the first request that has parameters to check, not at start: it is a large
 * library, and a server (or a job runner) that starts does not need it yet.
 */
let loaded: Zod | null = null;
let loading: Promise<Zod> | null = null;

function zod(): Zod {
  if (!loaded) throw new Error('zod is used before loadZod() resolved');
  return loaded;
}

async function loadZod(): Promise<Zod> {
  if (loaded) return loaded;
  loading ??= import('zod').then(
    (m) => (loaded = m),
    (err: unknown) => {
      loading = null; // the next request tries again
      throw err;
    },
  );
  return loading;
}

/** A schema built the first time it is needed, once zod is loaded. */
export interface LazySchema<S extends ParamsSchema> {
  get(): Promise<S>;
}

export function lazySchema<S extends ParamsSchema>(build: (z: Zod) => S): LazySchema<S> {
  let schema: S | null = null;
  return {
    async get() {
      if (!schema) schema = build(await loadZod());
      return schema;
    },
  };
}

export type ParamText = string | string[];

/**
 * A schema of a route's parameters: an object of named ones, strict (z.strictObject: no others
 * accepted) or, for routes whose parameters are open (section.key=value), with a catchall.
 */
export type ParamsSchema = z.ZodObject<Record<string, z.ZodType>, z.core.$ZodObjectConfig>;

/** The values a parameter takes, for error details where a list says more than the message. */
const allowedValues = new WeakMap<z.ZodType, string[]>();

function withAllowed<S extends z.ZodType>(schema: S, allowed: string[]): S {
  allowedValues.set(schema, allowed);
  return schema;
}

/**
 * How the API document describes a parameter whose text stands for something typed (a number,
 * one word of a list): what a client sends, though it travels as text. Looked up by the
 * document (api/v1/document.ts); other parameters are described from their schema.
 */
const documented = new WeakMap<z.ZodType, Record<string, unknown>>();

export function documentedParam(schema: z.ZodType): Record<string, unknown> | undefined {
  return documented.get(schema);
}

function withDocument<S extends z.ZodType>(schema: S, doc: Record<string, unknown>): S {
  documented.set(schema, doc);
  return schema;
}

/** One value of text; `what` ends "parameter NAME …" when it is missing or wrong. */
export function text(what = 'must be text'): z.ZodString {
  return zod().string({ error: what });
}

/** true/false and their usual spellings (util/truth.ts), any case, surrounding space ignored. */
export function flag() {
  return withAllowed(
    zod()
      .string({ error: 'must be true or false' })
      .trim()
      .pipe(zod().stringbool({ truthy: [...TRUE_WORDS], falsy: [...FALSE_WORDS], case: 'insensitive', error: 'must be true or false' }))
      .optional()
      .transform((v) => v ?? false),
    ['true', 'false'],
  );
}

/** A whole number written in digits, from min to max; `dflt` when the parameter is not given. */
export function wholeNumber(min: number, max: number, dflt: number) {
  const what = `must be a whole number from ${min} to ${max}`;
  return withDocument(zod()
    .string({ error: what })
    .regex(/^\d+$/, { error: what })
    .transform(Number)
    .pipe(zod().number({ error: what }).int({ error: what }).min(min, { error: what }).max(max, { error: what }))
    .optional()
    .transform((v) => v ?? dflt), { type: 'integer', minimum: min, maximum: max, default: dflt });
}

/** One word of a fixed list, any case (answered in lower case). */
export function oneOf<const W extends string>(words: readonly W[], dflt: W) {
  const what = `must be ${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`;
  const schema = zod()
    .string({ error: what })
    .transform((v) => v.toLowerCase())
    .pipe(zod().enum(words as unknown as [W, ...W[]], { error: what }))
    .optional()
    .transform((v) => v ?? dflt);
  return withDocument(withAllowed(schema, [...words]), { type: 'string', enum: [...words], default: dflt, description: 'Any case' });
}

/** One word of a fixed list, exactly as written (the v1 routes: no other spelling). */
export function word<const W extends string>(words: readonly W[], dflt: W) {
  const what = `must be ${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`;
  const schema = zod()
    .enum(words as unknown as [W, ...W[]], { error: what })
    .optional()
    .transform((v) => v ?? dflt);
  return withDocument(withAllowed(schema, [...words]), { type: 'string', enum: [...words], default: dflt });
}

/** Text matching `pattern`; `allowed` (e.g. ['YYYYmm']) goes into the error's details. */
export function matching(pattern: RegExp, what: string, allowed?: string[]) {
  const schema = zod().string({ error: what }).regex(pattern, { error: what });
  return allowed ? withAllowed(schema, allowed) : schema;
}

/** The open part of a change route: any name, each with its text (or texts, refused later). */
export const openValues = () => textOrList();

/** A list given as repeated parameters, a JSON list or one (comma-separated) text. */
export function textOrList() {
  return zod().union([zod().string(), zod().array(zod().string())], { error: 'must be text or a list of texts' });
}

/** Legacy parameters as the schemas read them: text, or a list of texts for a repeated name. */
export function asText(params: Params): Record<string, ParamText> {
  const out: Record<string, ParamText> = {};
  for (const [name, value] of Object.entries(params)) out[name] = Array.isArray(value) ? value.map(String) : String(value);
  return out;
}

/** A route that takes no parameters (any given is refused, naming it). */
export const noParams = lazySchema((z) => z.strictObject({}));

/** A route's parameters checked against its schema; the first problem is thrown as a 400. */
export async function parseParams<S extends ParamsSchema>(lazy: LazySchema<S>, params: Params): Promise<z.output<S>> {
  const schema = await lazy.get();
  const given = asText(params);
  const result = schema.safeParse(given);
  if (result.success) return result.data as z.output<S>;
  throw paramError(schema, given, result.error.issues);
}

function paramError(schema: ParamsSchema, given: Record<string, ParamText>, issues: readonly z.core.$ZodIssue[]): ApiError {
  const names = Object.keys(schema.shape);
  // An unknown name says most (a typo of a known one), so it wins over any other problem.
  const unknown = issues.find((i) => i.code === 'unrecognized_keys');
  if (unknown && unknown.code === 'unrecognized_keys') {
    const name = Object.keys(given).find((k) => !names.includes(k)) ?? unknown.keys[0]!;
    return badRequest(`unknown parameter ${name}; allowed: ${names.join(', ') || '(none)'}`, { parameter: name, allowed: names });
  }
  const issue = issues[0]!;
  const parameter = String(issue.path[0] ?? '');
  if (Array.isArray(given[parameter]) && issue.code === 'invalid_type') {
    return badRequest(`parameter ${parameter} given more than once; expected one value`, { parameter });
  }
  const allowed = allowedOf(schema.shape[parameter]);
  return badRequest(`parameter ${parameter} ${issue.message}`, allowed ? { parameter, allowed } : { parameter });
}

/** The allowed values recorded on a field, looking through the wrappers (optional, default) around it. */
function allowedOf(field: z.ZodType | undefined): string[] | undefined {
  for (let f: z.core.$ZodType | undefined = field; f; f = (f._zod.def as { innerType?: z.core.$ZodType }).innerType) {
    const allowed = allowedValues.get(f as z.ZodType);
    if (allowed) return allowed;
  }
  return undefined;
}

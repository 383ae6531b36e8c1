/** Request bodies of the v1 routes: JSON only, parameters only in the body, each checked by its schema. */
import type { Context } from 'hono';
import type * as z from 'zod';
import type { AppEnv } from '../../context.js';
import { ApiError, badRequest } from '../../http/errors.js';
import { queryParams, readJsonValue, readParams } from '../../http/params.js';
import { noParams, parseParams, type LazySchema, type ParamsSchema } from '../../http/schema.js';

/** The body must be application/json (or, when `optional`, absent): anything else is a 415. */
export function requireJson(c: Context<AppEnv>, optional: boolean): void {
  const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json' || (optional && type === '')) return;
  throw new ApiError(415, 'UnsupportedMediaType', `send the body as application/json${type ? `, not ${type.slice(0, 64)}` : ''}`, { parameter: 'Content-Type', allowed: ['application/json'] });
}

/**
 * A flat JSON object of parameters checked against `schema`, as the schema reads it (flags as
 * booleans, words in their one spelling). Nothing may come in the query: a password or a value
 * in a URL ends up in logs.
 */
export async function paramsBody<S extends ParamsSchema>(c: Context<AppEnv>, schema: LazySchema<S>, optional: boolean): Promise<Record<string, unknown>> {
  await parseParams(noParams, queryParams(c));
  requireJson(c, optional);
  return (await parseParams(schema, await readParams(c))) as Record<string, unknown>;
}

/** A JSON body of any shape (nested objects) checked by `schema`; the first problem names its parameter. */
export async function shapedBody<T>(c: Context<AppEnv>, schema: LazyShape<T>): Promise<T> {
  await parseParams(noParams, queryParams(c));
  requireJson(c, false);
  const parsed = (await schema.get()).safeParse((await readJsonValue(c)) ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw badRequest(`${issue.path.join('.') || 'body'}: ${issue.message}`, { parameter: String(issue.path[0] ?? 'body') });
}

export interface LazyShape<T> {
  get(): Promise<z.ZodType<T>>;
}

/** A body schema of any shape, built the first time it is needed (zod is loaded then, not at start). */
export function lazyShape<T>(build: (zod: typeof import('zod')) => z.ZodType<T>): LazyShape<T> {
  let schema: z.ZodType<T> | null = null;
  return {
    async get() {
      schema ??= build(await import('zod'));
      return schema;
    },
  };
}

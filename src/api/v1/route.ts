/**
 * A v1 route, described once: its method and path template, the legacy path whose rules it
 * follows (DESIGN §3), what it takes and answers (for the document), and its handler. The gate
 * (gate.ts) matches requests against these, the document (document.ts) is written from them.
 */
import type { Context } from 'hono';
import type { AppEnv } from '../../context.js';
import type { LazySchema, ParamsSchema } from '../../http/schema.js';
import type { SchemaName } from './schemas.js';

export type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export interface ResponseSpec {
  description: string;
  /** A component of schemas.ts; none: no JSON body. */
  schema?: SchemaName;
  /** Default application/json; several: one of them (no schema). */
  contentType?: string | string[];
  /** Response headers worth naming (ETag, Location, Retry-After, Allow). */
  headers?: string[];
}

export interface V1Route {
  method: Method;
  /** Below /api/v1, as OpenAPI writes it: `/hosts/{host}/servers`. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  /**
   * The legacy route path whose access rules govern this route, so a rule means the same on both
   * surfaces; null: public (no token needed: the document and its docs page).
   */
  rule: string | null;
  /** The rule's path from the path's parameters, where it depends on them (`barman/{command}`). */
  ruleFrom?: (params: Record<string, string>) => string;
  /**
   * Other names of the rule's path (a barman command's other spelling, which legacy serves at its
   * own URL): a deny of any name refuses, access to any name grants.
   */
  ruleAliases?: string[];
  /** Takes credentials itself (Basic or a JSON body) instead of a token. */
  login?: boolean;
  /** Descriptions of the path's parameters, by name. */
  pathParams?: Record<string, string>;
  /** Request headers it reads, described (Last-Event-ID). */
  headerParams?: Record<string, string>;
  /** The query parameters, strict (an unknown one is refused by name). */
  query?: LazySchema<ParamsSchema>;
  /** The JSON body, for the document (the handler reads and checks it). */
  body?: { schema: SchemaName; required: boolean; also?: string };
  /** Answers of success; the errors every route may give are added by the document. */
  responses: Record<number, ResponseSpec>;
  /** Errors beyond those every route may give: 501 (barman without -f json, a build without the docs page's files), 502 (a barman host). */
  errors?: Array<409 | 422 | 501 | 502 | 504>;
  /** A read whose answer carries an ETag (the caller's scope included) and may be a 304. */
  conditional?: boolean;
  /** Members left out of the ETag: values that change while the resource does not (a ticket, signed anew). */
  etagWithout?: string[];
  /** The answer: a JSON value (rendered with status 200 unless it is a Response), or a Response. */
  handle(c: Context<AppEnv>, path: Record<string, string>): Promise<unknown>;
}

/** A route's template as a pattern over the request's segments below api/v1. */
export interface CompiledRoute {
  route: V1Route;
  segments: Array<{ literal: string } | { param: string }>;
}

export function compile(route: V1Route): CompiledRoute {
  const segments = route.path.split('/').filter((s) => s !== '').map((s) => {
    const m = /^\{([a-z_]+)\}$/.exec(s);
    return m ? { param: m[1]! } : { literal: s };
  });
  return { route, segments };
}

/** The path parameters when `parts` (decoded segments) fit the route; null when they do not. */
export function matchSegments(compiled: CompiledRoute, parts: readonly string[]): Record<string, string> | null {
  if (parts.length !== compiled.segments.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const seg = compiled.segments[i]!;
    if ('literal' in seg) {
      if (seg.literal !== parts[i]) return null;
    } else {
      params[seg.param] = parts[i]!;
    }
  }
  return params;
}

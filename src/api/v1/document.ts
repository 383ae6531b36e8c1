/**
 * The OpenAPI 3.1 document, written from the route descriptions (route.ts, legacy.ts) and the zod
 * schemas that check requests (their input side) and describe answers (schemas.ts), with zod's
 * own JSON Schema output (draft 2020-12, the dialect of OpenAPI 3.1). Built on the first request
 * for it, then kept: the routes do not change while the app runs.
 */
import type * as Z from 'zod';
import { documentedParam, type LazySchema, type ParamsSchema } from '../../http/schema.js';
import { LEGACY_ROUTES, type LegacyRoute } from './legacy.js';
import { v1Schemas } from './schemas.js';
import type { ResponseSpec, V1Route } from './route.js';
import { PROBLEM_TYPE } from './problem.js';

type Zod = typeof import('zod');
type Json = Record<string, unknown>;

export const API_VERSION = '1.0.0';

const ref = (kind: 'schemas' | 'responses', name: string) => ({ $ref: `#/components/${kind}/${name}` });

/** JSON Schema of a zod schema without the members a component or parameter does not carry. */
function jsonSchema(z: Zod, schema: Z.ZodType, io: 'input' | 'output'): Json {
  const { $schema: _s, $id: _i, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Json;
  return rest;
}

const PROBLEMS: Record<string, { status: number; description: string; headers?: string[] }> = {
  BadRequest: { status: 400, description: 'A parameter is wrong: `parameter` names it' },
  Unauthorized: { status: 401, description: 'No valid token (or wrong credentials)' },
  Forbidden: { status: 403, description: 'Your rules do not allow this' },
  NotFound: { status: 404, description: 'No such thing, or none you may reach' },
  MethodNotAllowed: { status: 405, description: 'This path does not serve that method: Allow lists those it does', headers: ['Allow'] },
  ContentTooLarge: { status: 413, description: 'The body is larger than 1 MiB' },
  UnsupportedMediaType: { status: 415, description: 'A body that is not application/json' },
  TooManyRequests: { status: 429, description: 'Too many failed logins: wait as Retry-After says', headers: ['Retry-After'] },
  Conflict: { status: 409, description: 'Not now: the job has ended, or another change came first' },
  BarmanFailed: { status: 422, description: "barman ran and failed: status_code is its exit code, list and data its output, detail its message" },
  InternalError: { status: 500, description: 'The API failed (a file it could not read or write): the log says more' },
  NotImplemented: { status: 501, description: 'Not available here: a barman without -f json output (no state model), or an installation without the docs page\'s files' },
  BadGateway: { status: 502, description: 'The barman host failed, could not be reached, or gave no answer to read' },
  BarmanTimeout: { status: 504, description: 'barman did not finish within [barman] timeout and was stopped' },
  ServiceUnavailable: { status: 503, description: 'Busy (barman processes at their cap, a file locked): retry after Retry-After', headers: ['Retry-After'] },
};

const HEADERS: Record<string, Json> = {
  ETag: { description: 'Of this answer and of your rules: send it back as If-None-Match', schema: { type: 'string' } },
  'Retry-After': { description: 'Seconds to wait', schema: { type: 'integer', minimum: 0 } },
  Allow: { description: 'The methods this path serves', schema: { type: 'string' } },
  Location: { description: 'The job: GET it, or follow its log at …/log', schema: { type: 'string' } },
};

function headersOf(names: string[] | undefined): Json | undefined {
  return names?.length ? Object.fromEntries(names.map((h) => [h, HEADERS[h]])) : undefined;
}

function response(spec: ResponseSpec): Json {
  const headers = headersOf(spec.headers);
  const types = [spec.contentType ?? 'application/json'].flat();
  return {
    description: spec.description,
    ...(headers ? { headers } : {}),
    ...(spec.schema ? { content: { [types[0]!]: { schema: ref('schemas', spec.schema) } } } : spec.contentType ? { content: Object.fromEntries(types.map((t) => [t, {}])) } : {}),
  };
}

/** Query (or form) parameters of a schema; `open`: any others too. */
function queryParameters(z: Zod, schema: ParamsSchema | null, open: boolean): Json[] {
  const out: Json[] = [];
  for (const [name, field] of Object.entries(schema?.shape ?? {})) {
    const optional = (field as Z.ZodType)._zod.optin === 'optional';
    out.push({ name, in: 'query', required: !optional, schema: documentedParam(field as Z.ZodType) ?? jsonSchema(z, field as Z.ZodType, 'input') });
  }
  if (open) {
    out.push({
      name: 'parameters', in: 'query', style: 'form', explode: true,
      description: 'Any further named parameters, each once (a list: the name repeated)',
      schema: { type: 'object', additionalProperties: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] } },
    });
  }
  return out;
}

async function schemaOf(lazy: LazySchema<ParamsSchema> | 'open' | undefined): Promise<ParamsSchema | null> {
  return lazy === undefined || lazy === 'open' ? null : lazy.get();
}

/** Whether a params schema takes names beyond its shape (a catchall). */
function isOpen(schema: ParamsSchema | null): boolean {
  const rest = (schema?._zod.def as { catchall?: { _zod: { def: { type: string } } } } | undefined)?.catchall;
  return rest !== undefined && rest._zod.def.type !== 'never'; // a strict object's catchall is never
}

async function v1Operation(z: Zod, r: V1Route): Promise<Json> {
  const query = await schemaOf(r.query);
  const parameters = [
    ...Object.entries(r.pathParams ?? {}).map(([name, description]) => ({ name, in: 'path', required: true, description, schema: { type: 'string', minLength: 1 } })),
    ...Object.entries(r.headerParams ?? {}).map(([name, description]) => ({ name, in: 'header', required: false, description, schema: { type: 'string' } })),
    ...queryParameters(z, query, false),
  ];
  const responses: Json = Object.fromEntries(Object.entries(r.responses).map(([status, spec]) => [status, response(spec)]));
  if (r.conditional) responses['304'] = { description: 'Not modified: your If-None-Match names the current ETag', headers: headersOf(['ETag']) };
  const problems = [
    'BadRequest', ...(r.rule === null ? [] : ['Unauthorized', 'Forbidden']), 'NotFound', 'MethodNotAllowed',
    ...(r.method !== 'GET' ? ['ContentTooLarge', 'UnsupportedMediaType'] : []), ...(r.login ? ['TooManyRequests'] : []),
    ...(r.errors?.includes(409) ? ['Conflict'] : []), ...(r.errors?.includes(422) ? ['BarmanFailed'] : []), 'InternalError',
    ...(r.errors?.includes(501) ? ['NotImplemented'] : []), ...(r.errors?.includes(502) ? ['BadGateway'] : []), 'ServiceUnavailable', ...(r.errors?.includes(504) ? ['BarmanTimeout'] : []),
  ];
  for (const p of problems) responses[String(PROBLEMS[p]!.status)] = ref('responses', p);
  return {
    operationId: r.operationId,
    summary: r.summary,
    ...(r.description ? { description: r.description } : {}),
    tags: [r.tag],
    security: r.rule === null ? [] : r.login ? [{ basic: [] }, {}] : [{ bearer: [] }],
    ...(parameters.length ? { parameters } : {}),
    ...(r.body ? { requestBody: { required: r.body.required, ...(r.body.also ? { description: `As JSON, ${r.body.also}` } : {}), content: { 'application/json': { schema: ref('schemas', r.body.schema) } } } } : {}),
    responses,
    'x-barmanapi-rule': r.rule,
  };
}

/** HEAD of a GET: the same answers, without their bodies (RFC 9110 §9.3.2). */
function headOperation(get: Json): Json {
  const bodiless = (r: Json): Json => {
    if ('$ref' in r) return { description: `As GET answers it (${String(r.$ref).split('/').pop()}), without the body` };
    const { content: _c, ...rest } = r;
    return rest;
  };
  const responses = Object.fromEntries(Object.entries(get.responses as Record<string, Json>).map(([status, r]) => [status, bodiless(r)]));
  return { ...get, operationId: `${String(get.operationId)}Head`, summary: `${String(get.summary)} (headers only)`, responses };
}

/** A legacy JSON or form body: a JSON number or boolean is taken as its text. */
function bodySchema(z: Zod, schema: ParamsSchema | null, open: boolean): Json {
  const properties = Object.fromEntries(Object.entries(schema?.shape ?? {}).map(([name, field]) => [name, { anyOf: [jsonSchema(z, field as Z.ZodType, 'input'), { type: ['number', 'boolean'] }] }]));
  return { type: 'object', properties, additionalProperties: open };
}

async function legacyPath(z: Zod, l: LegacyRoute): Promise<Json> {
  const schema = await schemaOf(l.params);
  const open = l.params === 'open' || isOpen(schema);
  const pathParams = /\{command\}/.test(l.path) ? [{ name: 'command', in: 'path', required: true, description: "A barman command, as the host's barman names it (backup, list-backup, …)", schema: { type: 'string' } }] : [];
  const hostParam = l.host ? [{ name: 'host', in: 'query', required: false, description: 'The barman host (default: [barman])', schema: { type: 'string' } }] : [];
  const body = bodySchema(z, schema, open);
  if (l.host) (body.properties as Json).host = { type: 'string' };
  const ok: Json = { description: "The seed's envelope", content: { 'application/json': { schema: ref('schemas', l.answer ?? 'LegacyResult') } } };
  if (l.events) (ok.content as Json)['text/event-stream'] = { schema: { type: 'string' } };
  const responses: Json = { 200: ok, ...(l.accepted ? { 202: { description: 'Started, or under way', content: { 'application/json': { schema: ref('schemas', 'LegacyResult') } } } } : {}) };
  const error = (what: string) => ({ description: `${what}, in the seed's envelope`, content: { 'application/json': { schema: ref('schemas', 'LegacyError') } } });
  Object.assign(responses, { '4XX': error('A request the route refuses (or barman failed: status_code is its exit code)'), '5XX': error('The API or the barman host failed') });
  const security = [{ bearer: [] }, { tokenQuery: [] }, ...(l.basic ? [{ basic: [] }] : [])];
  const name = l.path.replace(/[{}]/g, '').split('/').filter(Boolean).map((s, i) => (i === 0 ? s : s[0]!.toUpperCase() + s.slice(1))).join('').replace(/-(\w)/g, (_m, ch: string) => ch.toUpperCase());
  const op = (method: 'get' | 'post'): Json => ({
    operationId: `legacy${name[0]!.toUpperCase()}${name.slice(1)}${method === 'get' ? '' : 'Post'}`,
    summary: l.summary,
    ...(l.description ? { description: l.description } : {}),
    tags: ['legacy'],
    security,
    parameters: [...pathParams, ...(method === 'get' ? [...hostParam, ...queryParameters(z, schema, open)] : [])],
    ...(method === 'post' ? { requestBody: { required: false, content: { 'application/json': { schema: body }, 'application/x-www-form-urlencoded': { schema: body } } } } : {}),
    responses,
  });
  return { get: op('get'), post: op('post') };
}

/** /healthz and /readyz, GET and HEAD: public, JSON, never cached. */
function healthPaths(): Record<string, Json> {
  const noStore = { 'Cache-Control': { description: 'no-store', schema: { type: 'string' } } };
  const answer = (description: string, schema: string) => ({ description, headers: noStore, content: { 'application/json': { schema: ref('schemas', schema) } } });
  const notAllowed = { description: 'Only GET and HEAD are served', headers: headersOf(['Allow']), content: { 'application/json': { schema: ref('schemas', 'LegacyError') } } };
  const path = (name: string, summary: string, description: string, responses: Json, security: Json[]): Json => {
    const get: Json = { operationId: name, summary, description, tags: ['health'], security, responses: { ...responses, 405: notAllowed } };
    return { get, head: headOperation(get) };
  };
  return {
    '/healthz': path('healthz', 'Liveness', 'Answers while the process serves requests. Needs no token and runs nothing.', { 200: answer('Alive', 'Health') }, [{}]),
    '/readyz': path(
      'readyz',
      'Readiness',
      "Ready when the store takes writes and the server is not stopping. A barman host that is down never makes the API not ready; with a token whose rules reach /fleet, each host you reach is described (reachability, catalogue, last state round).",
      {
        200: answer('Ready', 'Readiness'),
        401: { description: 'A token was sent and is not valid', content: { 'application/json': { schema: ref('schemas', 'LegacyError') } } },
        403: { description: "The token's rules do not reach /fleet", content: { 'application/json': { schema: ref('schemas', 'LegacyError') } } },
        503: answer('Not ready: checks says which check fails', 'Readiness'),
      },
      [{}, { bearer: [] }, { tokenQuery: [] }],
    ),
    '/metrics': path(
      'metrics',
      'Prometheus metrics',
      "Prometheus' text format, each scrape a state round the read cache answers (no barman run while barman's files are unchanged). prometheus-barman-exporter's families (barman_*, with a host label beside server) and ours (barmanapi_*). Needs the [metrics] token as a Bearer credential, or a login token whose rules allow metrics (then only the hosts that user reaches).",
      {
        200: { description: 'The metrics', headers: noStore, content: { 'text/plain; version=0.0.4; charset=utf-8': { schema: { type: 'string' } } } },
        401: { description: 'No credentials, or not valid ones', content: { 'application/json': { schema: ref('schemas', 'LegacyError') } } },
        403: { description: "The token's rules do not allow metrics, or not what /fleet shows", content: { 'application/json': { schema: ref('schemas', 'LegacyError') } } },
      },
      [{ bearer: [] }, { tokenQuery: [] }],
    ),
  };
}

async function build(routes: readonly V1Route[]): Promise<Json> {
  const z = await import('zod');
  const schemas = v1Schemas(z);
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(schemas)) registry.add(schema as Z.ZodType, { id });
  const components = (z.toJSONSchema(registry, { uri: (id) => `#/components/schemas/${id}`, io: 'output', unrepresentable: 'any' }) as { schemas: Record<string, Json> }).schemas;
  for (const c of Object.values(components)) {
    delete c.$schema;
    delete c.$id;
  }
  const paths: Record<string, Json> = {};
  for (const r of routes) {
    const key = `/api/v1${r.path}`;
    const op = await v1Operation(z, r);
    paths[key] = { ...paths[key], [r.method.toLowerCase()]: op, ...(r.method === 'GET' ? { head: headOperation(op) } : {}) };
  }
  for (const l of LEGACY_ROUTES) paths[l.path] = await legacyPath(z, l);
  Object.assign(paths, healthPaths());
  const responses: Json = Object.fromEntries(Object.entries(PROBLEMS).map(([name, p]) => [name, { description: p.description, ...(p.headers ? { headers: headersOf(p.headers) } : {}), content: { [PROBLEM_TYPE]: { schema: ref('schemas', 'Problem') } } }]));
  return {
    openapi: '3.1.0',
    info: {
      title: 'barmanapi',
      version: API_VERSION,
      summary: 'Barman (Backup and Recovery Manager for PostgreSQL) over HTTP',
      description: 'The v1 routes (below /api/v1) are typed resources: errors are application/problem+json, reads carry an ETag. Each v1 route follows the access rules of one legacy route (`x-barmanapi-rule`). The legacy routes (tag `legacy`) are the original API, kept for existing clients.',
      license: { name: 'GPL-3.0-or-later', identifier: 'GPL-3.0-or-later' },
    },
    servers: [{ url: '../..', description: 'Where this document is served, two levels up (the API\'s root, below any mount point)' }],
    tags: [
      { name: 'auth', description: 'Tokens and your own account' },
      { name: 'hosts', description: 'The barman hosts you reach' },
      { name: 'servers', description: 'PostgreSQL servers barman backs up, with their state' },
      { name: 'backups', description: "A server's backups" },
      { name: 'jobs', description: 'Async barman commands and their results' },
      { name: 'commands', description: 'Any barman command of a host, by name' },
      { name: 'users', description: 'Users of this API and their rules' },
      { name: 'config', description: "barman's configuration on a host" },
      { name: 'settings', description: "This API's own settings" },
      { name: 'meta', description: 'This document and its docs page' },
      { name: 'health', description: 'Probes for systemd and load balancers (no token) and Prometheus metrics: no barman run' },
      { name: 'webhooks', description: 'Signed event deliveries to the receivers of [webhooks] urls, and their state' },
      { name: 'legacy', description: 'The original API: each route answers GET (query) and POST (JSON or form)' },
    ],
    paths,
    components: {
      schemas: components,
      responses,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'A token from POST /api/v1/auth/token (or /auth/token)' },
        basic: { type: 'http', scheme: 'basic', description: 'Username and password: only to get a token, and on the legacy /auth routes' },
        tokenQuery: { type: 'apiKey', in: 'query', name: 'token', description: 'Legacy routes only: the token as ?token=' },
      },
    },
  };
}

/** The document, built once per route set. */
export function openApiDocument(routes: readonly V1Route[]): () => Promise<Json> {
  let doc: Promise<Json> | null = null;
  return () => {
    doc ??= build(routes);
    doc.catch(() => (doc = null));
    return doc;
  };
}

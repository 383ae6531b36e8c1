/**
 * The OpenAPI document: every v1 route and every legacy route in it, and what the app answers
 * checked against it for a sample of requests (the black-box suite runs the whole API through a
 * validating proxy and a generated-request pass against the document).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testApp } from '../support/app.js';
import { LEGACY_ROUTES } from '../../src/api/v1/legacy.js';

describe('the OpenAPI document', () => {
  it('is served without a token at /api/v1/openapi.json, as OpenAPI 3.1', async () => {
    const { app } = testApp();
    const res = await app.request('/api/v1/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toBe('3.1.0');
  });

  it('describes every v1 route with its method, and every legacy route with GET and POST', async () => {
    const { app, api } = testApp();
    const doc = (await (await app.request('/api/v1/openapi.json')).json()) as { paths: Record<string, Record<string, { operationId: string; tags: string[]; responses: object; 'x-barmanapi-rule'?: string | null }>> };
    // v1 lists each status it answers: no catch-all `default` that any answer would fit.
    const withDefault = Object.entries(doc.paths).filter(([p, ops]) => p.startsWith('/api/v1') && Object.values(ops).some((op) => 'default' in op.responses));
    expect(withDefault.map(([p]) => p)).toEqual([]);
    for (const r of api.v1.routes) {
      const op = doc.paths[`/api/v1${r.path}`]?.[r.method.toLowerCase()];
      expect(op, `${r.method} /api/v1${r.path}`).toBeDefined();
      expect(op!['x-barmanapi-rule']).toBe(r.rule);
    }
    // Every route the app serves outside v1, as Hono has them, is in the document as legacy.
    const all = api.app.routes.map((r) => r.path.replace(/:(\w+)/g, '{$1}'));
    // The dashboard's pages are HTML for people, not API: not in the document.
    expect(all).toContain('/dashboard/sign-in');
    const served = new Set(all.filter((p) => p !== '/*' && !p.startsWith('/api/v1') && !p.startsWith('/dashboard')));
    expect(served.size).toBeGreaterThanOrEqual(LEGACY_ROUTES.length);
    const probes = ['/healthz', '/readyz', '/metrics'];
    for (const path of probes) {
      expect(served.has(path), path).toBe(true);
      expect(doc.paths[path]?.get?.tags, path).toEqual(['health']);
      expect(doc.paths[path]?.head, path).toBeDefined();
      served.delete(path);
    }
    for (const path of served) {
      expect(doc.paths[path]?.get?.tags, path).toEqual(['legacy']);
      expect(doc.paths[path]?.post?.tags, path).toEqual(['legacy']);
    }
    // Every GET also answers HEAD, and the document says so.
    for (const r of api.v1.routes.filter((x) => x.method === 'GET')) expect(doc.paths[`/api/v1${r.path}`]?.head, r.path).toBeDefined();
    const ids = Object.values(doc.paths).flatMap((p) => Object.values(p).map((op) => op.operationId));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('types the v1 answers: a backup has its fields, required, and no others', async () => {
    const { app } = testApp();
    const doc = (await (await app.request('/api/v1/openapi.json')).json()) as { components: { schemas: Record<string, { required: string[]; additionalProperties: boolean }> } };
    const backup = doc.components.schemas.Backup!;
    expect(backup.required).toEqual(expect.arrayContaining(['id', 'status', 'begin_time', 'end_time', 'size_bytes']));
    expect(backup.additionalProperties).toBe(false);
  });

  it('passes Redocly\'s linter (its recommended rules) with no error and no warning', async () => {
    const { app } = testApp();
    const dir = mkdtempSync(join(tmpdir(), 'barmanapi-lint-'));
    try {
      writeFileSync(join(dir, 'openapi.json'), await (await app.request('/api/v1/openapi.json')).text());
      const bin = join(import.meta.dirname, '..', '..', 'node_modules', '.bin', 'redocly');
      const r = spawnSync(bin, ['lint', join(dir, 'openapi.json'), '--format=json'], {
        encoding: 'utf8',
        env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
      });
      const report = JSON.parse(r.stdout) as { totals: { errors: number; warnings: number }; problems: Array<{ ruleId: string; message: string }> };
      expect(report.problems.map((p) => `${p.ruleId}: ${p.message}`)).toEqual([]);
      expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

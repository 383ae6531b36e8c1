import { describe, expect, it } from 'vitest';
import { ApiError } from '../../src/http/errors.js';
import { parseParams, noParams, lazySchema, flag, wholeNumber, oneOf, matching, text, openValues } from '../../src/http/schema.js';
import { historyListParams, historyResultParams } from '../../src/jobs/routes.js';
import { templateParams } from '../../src/barman-config/routes.js';
import { configChangeParams } from '../../src/barman-config/change-route.js';
import type { Params } from '../../src/http/params.js';

async function refusal(schema: Parameters<typeof parseParams>[0], params: Params): Promise<ApiError> {
  try {
    await parseParams(schema, params);
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(400);
    return err as ApiError;
  }
  throw new Error(`accepted ${JSON.stringify(params)}`);
}

const message = async (schema: Parameters<typeof parseParams>[0], params: Params) => (await refusal(schema, params)).message;

describe('request parameters through their schemas', () => {
  it('reads query text, JSON numbers and booleans alike, with defaults for what is left out', async () => {
    expect(await parseParams(historyListParams, {})).toEqual({ limit: 100, offset: 0 });
    expect(await parseParams(historyListParams, { past: '202611', limit: '5', offset: 10 })).toEqual({ past: '202611', limit: 5, offset: 10 });
    expect(await parseParams(historyResultParams, { ticket: 'abc', follow: true })).toEqual({ ticket: 'abc', follow: true });
    for (const word of ['1', 'yes', 'ON', ' true ']) expect((await parseParams(historyResultParams, { ticket: 't', follow: word })).follow).toBe(true);
    for (const word of ['0', 'no', 'Off', 'false', '']) expect((await parseParams(historyResultParams, { ticket: 't', follow: word })).follow).toBe(false);
  });

  it('names an unknown parameter and lists the allowed ones, before any other problem', async () => {
    const err = await refusal(historyListParams, { limit: 'x', month: '202611' });
    expect(err.message).toBe('unknown parameter month; allowed: past, limit, offset');
    expect(err.details).toEqual({ parameter: 'month', allowed: ['past', 'limit', 'offset'] });
    expect(await message(noParams, { token2: 'x' })).toBe('unknown parameter token2; allowed: (none)');
  });

  it('refuses a repeated parameter where one value is expected', async () => {
    expect(await message(historyResultParams, { ticket: ['a', 'b'] })).toBe('parameter ticket given more than once; expected one value');
    expect(await message(historyListParams, { limit: ['1', '2'] })).toBe('parameter limit given more than once; expected one value');
  });

  it('says what a value must be, naming the parameter and, where a list helps, the allowed values', async () => {
    expect(await message(historyResultParams, {})).toBe('parameter ticket is required (from the answer of an async command or /history/list)');
    expect(await message(historyResultParams, { ticket: '' })).toMatch(/^parameter ticket is required/);
    const notFlag = await refusal(historyResultParams, { ticket: 't', follow: 'maybe' });
    expect(notFlag.message).toBe('parameter follow must be true or false');
    expect(notFlag.details).toEqual({ parameter: 'follow', allowed: ['true', 'false'] });
    for (const limit of ['0', '1001', '-1', '1.5', '1e2', ' 5', '99999999999999999999']) {
      expect(await message(historyListParams, { limit })).toBe('parameter limit must be a whole number from 1 to 1000');
    }
    expect((await refusal(historyListParams, { past: '2026-11' })).details).toEqual({ parameter: 'past', allowed: ['YYYYmm'] });
    expect(await message(templateParams, { scope: 'cluster' })).toBe('parameter scope must be global, server or model');
    expect((await parseParams(templateParams, { scope: 'GLOBAL' })).scope).toBe('global');
    expect(await message(templateParams, { section: '../x' })).toMatch(/^parameter section may hold letters/);
  });

  it('keeps the open part of a change route and parses its flags', async () => {
    const parsed = await parseParams(configChangeParams, { 'pg.description': 'Main', dry_run: 'yes', remove: ['a.b', 'c.d'] });
    expect(parsed).toMatchObject({ 'pg.description': 'Main', dry_run: true, create: false, force: false, remove: ['a.b', 'c.d'] });
    expect(await message(configChangeParams, { 'pg.description': 'x', force: 'sure' })).toBe('parameter force must be true or false');
  });

  it('the building blocks compose into new routes', async () => {
    const schema = lazySchema((z) => z.strictObject({ n: wholeNumber(2, 4, 3), f: flag(), w: oneOf(['a', 'b'], 'a'), m: matching(/^x+$/, 'must be xs').optional(), t: text().optional(), o: openValues().optional() }));
    expect(await parseParams(schema, {})).toEqual({ n: 3, f: false, w: 'a' });
    expect((await refusal(schema, { w: 'c' })).details).toEqual({ parameter: 'w', allowed: ['a', 'b'] });
    expect(await message(schema, { m: 'xy' })).toBe('parameter m must be xs');
  });
});

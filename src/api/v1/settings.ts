/**
 * This API's own settings as a resource: read them (secrets masked), change them with a JSON body
 * (dry_run answers the diff). The same rules, grant and file handling as /config/barmanapi: only
 * a user who reaches every barman host sees or changes them.
 */
import type { Context } from 'hono';
import type { AppEnv, Deps } from '../../context.js';
import { badRequest } from '../../http/errors.js';
import { queryParams, type Params } from '../../http/params.js';
import { noParams, parseParams } from '../../http/schema.js';
import { lazyShape, shapedBody } from './body.js';
import { changeSettings, checkReachesAll, settingsView } from '../../settings/routes.js';
import type { V1Route } from './route.js';

/** set: {"section.key": value} (host:NAME.key for a further host); remove: keys back to their defaults. */
export const settingsPatchBody = lazyShape((z) =>
  z.strictObject({
    set: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()], { error: 'must map section.key to a text, number or true/false (a list as its text: [\'a\', \'b\'])' })).optional(),
    remove: z.array(z.string()).optional(),
    dry_run: z.boolean({ error: 'must be true or false' }).optional(),
  }),
);

export function settingsRoutes(deps: Deps): V1Route[] {
  return [
    {
      method: 'GET', path: '/settings', operationId: 'getSettings', tag: 'settings', rule: 'config/barmanapi', conditional: true,
      summary: "This API's settings: each value, its default, where it comes from, whether it applies live (secrets masked)",
      responses: { 200: { description: 'The settings', schema: 'Settings', headers: ['ETag'] } },
      handle: async (c) => {
        checkReachesAll(deps, c);
        await parseParams(noParams, queryParams(c));
        return settingsView(deps.settingsFile);
      },
    },
    {
      method: 'PATCH', path: '/settings', operationId: 'changeSettings', tag: 'settings', rule: 'config/barmanapi/change',
      summary: "Change this API's settings; with dry_run, only the diff",
      description: 'Settings that decide what the API runs, who reaches it, or that hold secrets need the config/barmanapi/exec grant, as on /config/barmanapi/change. Some apply at once, the others after a restart (restart_required).',
      body: { schema: 'SettingsChange', required: true },
      responses: { 200: { description: 'What changed (or would change)', schema: 'SettingsChanged' } },
      errors: [409],
      handle: async (c) => {
        checkReachesAll(deps, c);
        return changeSettings(deps, c, await patchParams(c));
      },
    },
  ];
}

/** The body as /config/barmanapi/change's parameters (section.key=value, remove=…, dry_run). */
async function patchParams(c: Context<AppEnv>): Promise<Params> {
  const { set = {}, remove = [], dry_run } = await shapedBody(c, settingsPatchBody);
  if (Object.hasOwn(set, 'dry_run') || Object.hasOwn(set, 'remove')) throw badRequest('set: keys are section.key', { parameter: 'set' });
  const params: Params = { dry_run: String(dry_run ?? false) };
  for (const [key, value] of Object.entries(set)) params[key] = String(value);
  if (remove.length > 0) params.remove = remove;
  return params;
}

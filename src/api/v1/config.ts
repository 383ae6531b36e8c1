/**
 * barman's configuration of a host as a resource: read it (secrets redacted), change it with a
 * JSON body, a dry run answering the diff first. The rules, the exec grant and every safety rule
 * of /config/barman/change apply: it is the same change (barman-config/change-route.ts).
 */
import type { Context } from 'hono';
import type { AppEnv } from '../../context.js';
import { badRequest } from '../../http/errors.js';
import { queryParams, type Params } from '../../http/params.js';
import { noParams, parseParams } from '../../http/schema.js';
import { lazyShape, shapedBody } from './body.js';
import { changeBarmanConfig } from '../../barman-config/change-route.js';
import { publicView, readBarmanConfig } from '../../barman-config/reader.js';
import type { ConfigTargets } from '../../barman-config/routes.js';
import type { V1Route } from './route.js';

const HOST = { host: 'The barman host, as the settings name it (`default` for [barman])' };

/** set: {"section.key": "value"}; remove: ["section.key"]; and how to apply them. */
export const configPatchBody = lazyShape((z) =>
  z.strictObject({
    set: z.record(z.string(), z.string({ error: 'must map section.key to a text value' })).optional(),
    remove: z.array(z.string()).optional(),
    create: z.boolean({ error: 'must be true or false' }).optional(),
    force: z.boolean({ error: 'must be true or false' }).optional(),
    dry_run: z.boolean({ error: 'must be true or false' }).optional(),
  }),
);

export function configRoutes(targets: ConfigTargets): V1Route[] {
  return [
    {
      method: 'GET', path: '/hosts/{host}/config', operationId: 'getBarmanConfig', tag: 'config', rule: 'config/barman', conditional: true, pathParams: HOST,
      summary: "barman's configuration: every section as barman reads it, and its files (secrets redacted)",
      responses: { 200: { description: 'The configuration', schema: 'BarmanConfig', headers: ['ETag'] } },
      errors: [502],
      handle: async (c, p) => {
        await parseParams(noParams, queryParams(c));
        const { deps } = targets(c, p.host);
        const view = publicView(await readBarmanConfig(deps.host, deps.settings.current().barman.configFile));
        return { main_file: view.mainFile, configuration_files_directory: view.directory, sections: view.sections, files: view.files, warnings: view.warnings };
      },
    },
    {
      method: 'PATCH', path: '/hosts/{host}/config', operationId: 'changeBarmanConfig', tag: 'config', rule: 'config/barman/change', pathParams: HOST,
      summary: "Change barman's configuration; with dry_run, only the diff it would make",
      description: 'Options barman runs as commands need the config/barman/exec grant, as on /config/barman/change. Comments, order and other keys stay as they are; a copy of the file as it was goes to the store.',
      body: { schema: 'BarmanConfigChange', required: true },
      responses: { 200: { description: 'What changed (or would change): the diff, the file, the copy kept', schema: 'BarmanConfigChanged' } },
      errors: [409, 502],
      handle: async (c, p) => {
        const params = await patchParams(c);
        const { results, message, ...rest } = await changeBarmanConfig(c, { ...targets(c, p.host), params });
        return { ...rest, changes: results, message };
      },
    },
  ];
}

/** The body as /config/barman/change's parameters (section.key=value, remove=…, the flags). */
async function patchParams(c: Context<AppEnv>): Promise<Params> {
  const { set = {}, remove = [], create, force, dry_run } = await shapedBody(c, configPatchBody);
  for (const key of Object.keys(set)) if (['create', 'force', 'dry_run', 'remove'].includes(key)) throw badRequest(`set: ${key} is not section.key`, { parameter: 'set' });
  return { ...set, ...(remove.length ? { remove } : {}), create: String(create ?? false), force: String(force ?? false), dry_run: String(dry_run ?? false) };
}

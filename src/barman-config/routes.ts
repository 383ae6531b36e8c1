import { Hono } from 'hono';
import type { Context } from 'hono';
import type { AppEnv, Deps } from '../context.js';
import type { HostServices, HostSet } from '../hosts/services.js';
import { hostField } from '../hosts/names.js';
import { hostParam } from '../hosts/params.js';
import { ok } from '../http/envelope.js';
import { badRequest } from '../http/errors.js';
import { readParams } from '../http/params.js';
import { lazySchema, matching, noParams, oneOf, parseParams } from '../http/schema.js';
import { changeHandler } from './change-route.js';
import { privilegeReason } from './editor.js';
import { firstSentence, type BarmanOption, type OptionScope } from './option-catalogue.js';
import { knownOptions, OptionCatalogueStore, type InstalledOptions } from './options-store.js';
import { publicView, readBarmanConfig } from './reader.js';

export interface ConfigRoutesOptions {
  /** Called after a host's barman configuration was written through the API. */
  onChange?: (host: HostServices) => void;
}

/** /config/barman/template: a commented-out section of every option of a scope. */
export const templateParams = lazySchema((z) =>
  z.strictObject({
    scope: oneOf(['global', 'server', 'model'], 'server'),
    section: matching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, 'may hold letters, digits, ".", "_" and "-" only').optional(),
  }),
);

/**
 * /config/barman: barman's configuration, its options, and changes to it, on the barman host
 * `host=` names (the default host when absent), among those the user may reach.
 */
/** A barman host's configuration as requests reach it: the host (if the caller reaches it) and its option catalogue. */
export type ConfigTargets = (c: Context<AppEnv>, hostName: string | undefined) => { host: HostServices; deps: Deps; options: OptionCatalogueStore; onChange: () => void };

export function configTargets(hosts: HostSet, opts: ConfigRoutesOptions = {}): ConfigTargets {
  const stores = new Map<string, OptionCatalogueStore>();
  return (c, hostName) => {
    const host = hosts.forUser(c.get('user'), hostName);
    c.set('barmanHost', host.deps.host.description);
    let options = stores.get(host.name);
    if (!options) stores.set(host.name, (options = new OptionCatalogueStore(host.deps, () => host.catalogue.barmanVersion())));
    return { host, deps: host.deps, options, onChange: () => opts.onChange?.(host) };
  };
}

export function configRoutes(targets: ConfigTargets): Hono<AppEnv> {
  const r = new Hono<AppEnv>();
  /** The host a request names, its option catalogue, and its other parameters. */
  const target = async (c: Context<AppEnv>) => {
    const params = await readParams(c);
    return { ...targets(c, hostParam(params)), params };
  };

  r.all('/barman', async (c) => {
    const { deps, params, host } = await target(c);
    await parseParams(noParams, params);
    const view = publicView(await readBarmanConfig(deps.host, deps.settings.current().barman.configFile));
    return c.json(ok(view.sections, {
      main_file: view.mainFile,
      configuration_files_directory: view.directory,
      files: view.files,
      sections: Object.fromEntries(view.sections.map((s) => [s.name, s])),
      warnings: view.warnings,
      ...hostField(host.name),
    }));
  });

  r.all('/barman/help', async (c) => {
    const { options, params } = await target(c);
    await parseParams(noParams, params);
    return c.json(describeCatalogue(await options.get()));
  });

  r.all('/barman/reload', async (c) => {
    const { options, params } = await target(c);
    await parseParams(noParams, params);
    return c.json(describeCatalogue(await options.reload()));
  });

  r.all('/barman/template', async (c) => {
    const { options, params } = await target(c);
    const p = await parseParams(templateParams, params);
    const scope = p.scope;
    const section = p.section ?? (scope === 'global' ? 'barman' : 'example');
    const installed = await options.get();
    const picked = knownOptions(installed.catalogue).filter((o) => o.scopes.length === 0 || o.scopes.includes(scope));
    return c.json(ok(picked.map(summary), {
      scope,
      section,
      source: installed.catalogue.source,
      barman_version: installed.version ?? installed.catalogue.barmanVersion,
      template: makeTemplate(section, scope, picked, installed),
    }));
  });

  r.all('/barman/change', changeHandler(target));
  return r;
}

function summary(o: BarmanOption & { documented: boolean }) {
  return {
    name: o.name,
    description: o.description,
    scopes: o.scopes,
    type: o.type,
    choices: o.choices,
    default: o.default,
    executes: o.executes,
    /** Changing it needs an access rule naming config/barman/exec. */
    privileged: privilegeReason(o.name) !== null,
    documented: o.documented,
  };
}

function describeCatalogue(installed: InstalledOptions) {
  const all = knownOptions(installed.catalogue);
  return ok(all.map(summary), {
    source: installed.catalogue.source,
    man_page: installed.manPage,
    barman_version: installed.version ?? installed.catalogue.barmanVersion,
    options: all.length,
    built_at: installed.builtAt,
    ...(installed.fallbackReason ? { fallback_reason: installed.fallbackReason } : {}),
  });
}

/** A commented-out section: every option of the scope with its first sentence and default. */
function makeTemplate(section: string, scope: OptionScope, picked: BarmanOption[], installed: InstalledOptions): string {
  const version = installed.version ?? installed.catalogue.barmanVersion ?? 'unknown';
  const lines = [
    `; [${section}]: ${scope} options of barman ${version} (from ${installed.manPage ?? 'the built-in catalogue'}).`,
    '; Uncomment and set what you need; see /config/barman/help for the full descriptions.',
    `[${section}]`,
  ];
  for (const o of picked) {
    lines.push('', `; ${firstSentence(o.description).replace(/\s+/g, ' ')}`);
    if (o.choices) lines.push(`; values: ${o.choices.join(', ')}`);
    if (privilegeReason(o.name)) lines.push('; changing it through the API needs access to config/barman/exec');
    lines.push(`;${o.name} = ${o.default ?? ''}`.trimEnd());
  }
  return `${lines.join('\n')}\n`;
}

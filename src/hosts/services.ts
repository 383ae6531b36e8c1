/**
 * Several barman hosts: each named host ([barman] is `default`, then every `[host:NAME]`) has its
 * own command catalogue (hosts may run different barman versions), cap on barman processes,
 * shared runs, read cache, state model and background refresher, all built here the same way.
 */
import type { Deps, SettingsHolder } from '../context.js';
import type { BarmanHost } from '../ports.js';
import type { HostSettings, Settings } from '../settings/load.js';
import { CatalogueStore } from '../barman/catalogue.js';
import { RunSlots, withRunSlots } from '../barman/run-slots.js';
import { SingleFlight } from '../barman/single-flight.js';
import { readBarmanConfig } from '../barman-config/reader.js';
import { FingerprintSource } from '../state/fingerprint.js';
import { ReadCache } from '../state/read-cache.js';
import { StateService } from '../state/service.js';
import { Refresher } from '../state/refresher.js';
import { BaselineStore } from '../state/baseline.js';
import { notFound } from '../http/errors.js';
import { HostBreaker } from './breaker.js';
import { reachesHost, type Rules } from '../auth/policy.js';
import { DEFAULT_HOST } from './names.js';

/** What one barman host is served with. */
export interface HostServices {
  name: string;
  /** The app's deps as this host sees them: its adapter (under its cap) and its [barman] keys. */
  deps: Deps;
  slots: RunSlots;
  /** Whether the host is up, and why not. */
  breaker: HostBreaker;
  catalogue: CatalogueStore;
  flights: SingleFlight;
  reads: ReadCache;
  state: StateService;
  refresher: Refresher;
}

/** Settings whose `barman` is the named host's; the rest (and live changes) are the app's. */
export function hostSettings(holder: SettingsHolder, name: string): SettingsHolder {
  if (name === DEFAULT_HOST) return holder;
  let seen: Settings | null = null;
  let view: Settings | null = null;
  return {
    current() {
      const s = holder.current();
      if (s !== seen) {
        const host = s.hosts.find((h) => h.name === name);
        if (!host) throw new Error(`no barman host ${name} in the settings`);
        seen = s;
        view = { ...s, barman: host.barman };
      }
      return view!;
    },
    update: (next, ids) => holder.update(next, ids),
  };
}

/**
 * Build the services of one host. `isolate` (several hosts): a host known down fails at once
 * (HostBreaker); alone, each request tries the host again, as it always did.
 */
export function serveHost(name: string, host: BarmanHost, app: Deps, cpuCount: number | undefined, isolate: boolean): HostServices {
  const settings = hostSettings(app.settings, name);
  const slots = new RunSlots({
    limit: () => settings.current().barman.maxConcurrent || 2 * (cpuCount ?? 2),
    queueLimit: () => settings.current().barman.maxQueued,
    description: host.description,
  });
  const breaker = new HostBreaker({ name, clock: app.clock, logger: app.logger, probe: (h) => h.stat(settings.current().barman.configFile) });
  // The breaker before the slot (a host known down fails at once, without waiting for one) and
  // after it (a request that waited while the host went down fails at once too).
  const deps: Deps = { ...app, settings, host: isolate ? breaker.wrap(withRunSlots(breaker.wrap(host), slots)) : withRunSlots(host, slots) };
  const catalogue = new CatalogueStore(deps);
  const flights = new SingleFlight();
  const fingerprints = new FingerprintSource({ host: deps.host, configFile: () => settings.current().barman.configFile, readConfig: readBarmanConfig });
  const reads = new ReadCache({ fingerprints, flights, settings: () => settings.current().cache, logger: deps.logger });
  // The model needs to know whether barman has -f json: barman's main help says it, not the whole catalogue.
  const state = new StateService({ deps, reads, catalogue: () => catalogue.forCommand('list-server') });
  const refresher = new Refresher({ state, host: name === DEFAULT_HOST ? host.description : `${name} (${host.description})`, logger: deps.logger, clock: deps.clock, settings: () => ({ ...settings.current().cache, checkIntervalSeconds: settings.current().metrics.checkInterval }), baseline: new BaselineStore(app.storage, name, app.logger) });
  return { name, deps, slots, breaker, catalogue, flights, reads, state, refresher };
}

/** Every host's services, by name, the default host first. */
export class HostSet {
  private readonly byName: Map<string, HostServices>;

  constructor(readonly list: readonly HostServices[]) {
    this.byName = new Map(list.map((h) => [h.name, h]));
  }

  get default(): HostServices {
    return this.list[0]!;
  }

  /** The host named `name`; undefined for none. */
  find(name: string): HostServices | undefined {
    return this.byName.get(name);
  }

  /**
   * The host a request names (`host=`; the default host when not given), if `user` may reach it.
   * A host the user may not reach is answered as one that does not exist: no route tells a user
   * which other hosts there are.
   */
  forUser(user: Rules, name: string | undefined): HostServices {
    const wanted = name ?? DEFAULT_HOST;
    const host = this.byName.get(wanted);
    if (!host || !reachesHost(user, wanted)) {
      const reachable = this.list.filter((h) => reachesHost(user, h.name)).map((h) => h.name);
      throw notFound(`no barman host ${JSON.stringify(wanted.slice(0, 64))} that you may reach; yours: ${reachable.join(', ') || 'none'}`, { parameter: 'host' });
    }
    return host;
  }

  /** The hosts `user` may reach, in settings order. */
  reachable(user: Rules): HostServices[] {
    return this.list.filter((h) => reachesHost(user, h.name));
  }
}

/** The hosts of the settings, each with its adapter: `[barman]`'s is `host`, the others' from `further`. */
export function hostAdapters(settings: Settings, host: BarmanHost, further: Readonly<Record<string, BarmanHost>> | undefined): Array<[HostSettings, BarmanHost]> {
  return settings.hosts.map((h, i) => {
    if (i === 0) return [h, host];
    const adapter = further?.[h.name];
    if (!adapter) throw new Error(`the settings name a barman host ${h.name}, and no adapter was given for it`);
    return [h, adapter];
  });
}

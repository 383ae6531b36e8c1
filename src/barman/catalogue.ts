import type { BarmanHost, Clock, Logger, Storage } from '../ports.js';
import type { SettingsHolder } from '../context.js';
import { ApiError } from '../http/errors.js';
import { mapBounded } from '../util/concurrency.js';
import { aliasTarget, parseCommandHelp, parseMainHelp, parseVersion, type CommandSpec, type OptionSpec } from './help-parser.js';

/** Everything the installed barman accepts, read from its own --help. */
export interface Catalogue {
  version: string;
  builtAt: string;
  /** Global options (`-c`, `-f` …), from `barman --help`. */
  globalOptions: OptionSpec[];
  supportsJson: boolean;
  commands: CommandSpec[];
}

export interface CatalogueDeps {
  settings: SettingsHolder;
  host: BarmanHost;
  storage: Storage;
  clock: Clock;
  logger: Logger;
}

/** How long the version found by `barman -v` is trusted before it is asked again (in the background). */
const VERSION_TTL_MS = 5 * 60_000;
const HELP_CONCURRENCY = 4;
/** --help and -v are quick; the command timeout setting is for real work. */
const HELP_TIMEOUT_MS = 60_000;
const CACHE_DIR = 'config';

/**
 * Discovers barman's commands once per barman version and keeps them in memory and under
 * store/config/catalogue-<version>.json. A request never waits for `barman -v` once a catalogue
 * is loaded: the version is re-checked in the background, and a new version rebuilds it.
 */
export class CatalogueStore {
  private current: Catalogue | null = null;
  private checkedAt = 0;
  private building: Promise<Catalogue> | null = null;
  private rechecking = false;

  constructor(private readonly deps: CatalogueDeps) {}

  /** The catalogue, building it on first use. */
  async get(): Promise<Catalogue> {
    if (this.current) {
      if (this.deps.clock.now().getTime() - this.checkedAt > VERSION_TTL_MS) this.recheckInBackground();
      return this.current;
    }
    return this.load(false);
  }

  /** The installed barman's version: the loaded catalogue's, else asked with `barman -v` alone. */
  async barmanVersion(): Promise<string> {
    return this.current?.version ?? this.version();
  }

  /** /barman/reload: ask barman again, whatever is cached. */
  async reload(): Promise<Catalogue> {
    return this.load(true);
  }

  /** Find a command by name or alias. */
  static find(cat: Catalogue, name: string): CommandSpec | undefined {
    const n = name.toLowerCase();
    return cat.commands.find((c) => c.name === n) ?? cat.commands.find((c) => c.aliases.includes(n));
  }

  private recheckInBackground(): void {
    if (this.rechecking) return;
    this.rechecking = true;
    this.checkedAt = this.deps.clock.now().getTime();
    void this.version()
      .then(async (v) => {
        if (v !== this.current?.version) {
          this.deps.logger.log('info', `barman version changed to ${v}; rebuilding the command catalogue`);
          await this.load(true);
        }
      })
      .catch((e) => this.deps.logger.log('warn', `barman version check failed: ${(e as Error).message}`))
      .finally(() => (this.rechecking = false));
  }

  private load(force: boolean): Promise<Catalogue> {
    this.building ??= (async () => {
      try {
        const version = await this.version();
        const path = `${CACHE_DIR}/catalogue-${version.replace(/[^A-Za-z0-9._-]/g, '_')}.json`;
        let cat: Catalogue | null = null;
        if (!force) cat = await this.readCache(path, version);
        if (!cat) {
          const started = Date.now();
          cat = await this.discover(version);
          await this.deps.storage.writeAtomic(path, JSON.stringify(cat));
          this.deps.logger.log('info', `barman ${version}: ${cat.commands.length} commands discovered in ${Date.now() - started} ms`);
        }
        this.current = cat;
        this.checkedAt = this.deps.clock.now().getTime();
        return cat;
      } finally {
        this.building = null;
      }
    })();
    return this.building;
  }

  private async readCache(path: string, version: string): Promise<Catalogue | null> {
    const text = await this.deps.storage.readText(path);
    if (!text) return null;
    try {
      const cat = JSON.parse(text) as Catalogue;
      return cat.version === version && Array.isArray(cat.commands) ? cat : null;
    } catch {
      this.deps.logger.log('warn', `ignoring unreadable catalogue cache ${path}`);
      return null;
    }
  }

  private async barman(args: string[]): Promise<string> {
    const { command, configFile } = this.deps.settings.current().barman;
    const r = await this.deps.host.run([...command, '-c', configFile, ...args], { timeoutMs: HELP_TIMEOUT_MS, background: true });
    // argparse prints help and exits 0; some old versions exit 0 with help on stderr.
    if (r.exitCode !== 0 || r.timedOut) {
      const why = r.timedOut ? 'timed out' : `exit code ${r.exitCode ?? r.signal}`;
      throw new ApiError(502, 'BarmanUnavailable', `cannot run barman on ${this.deps.host.description} (${[...command, ...args].join(' ')}: ${why}): ${(r.stderr || r.stdout).trim().slice(0, 500)}`);
    }
    return r.stdout || r.stderr;
  }

  private async version(): Promise<string> {
    return parseVersion(await this.barman(['-v']));
  }

  private async discover(version: string): Promise<Catalogue> {
    const main = parseMainHelp(await this.barman(['--help']));
    const names = main.commands.map((c) => c.name);
    const helps = await mapBounded(names, HELP_CONCURRENCY, async (name) => ({ name, text: await this.barman([name, '--help']) }));
    const specs = new Map<string, CommandSpec>();
    const aliases: Array<[string, string]> = [];
    for (const { name, text } of helps) {
      const target = aliasTarget(name, text);
      if (target && target !== name) aliases.push([name, target]);
      else specs.set(name, parseCommandHelp(name, text));
    }
    for (const [alias, target] of aliases) {
      const spec = specs.get(target);
      if (spec && !spec.aliases.includes(alias)) spec.aliases.push(alias);
      else if (!spec) specs.set(alias, parseCommandHelp(alias, helps.find((h) => h.name === alias)!.text));
    }
    for (const c of main.commands) {
      const spec = specs.get(c.name);
      if (spec && !spec.description) spec.description = c.description;
      for (const a of c.aliases ?? []) if (spec && !spec.aliases.includes(a)) spec.aliases.push(a);
    }
    return {
      version,
      builtAt: this.deps.clock.now().toISOString(),
      globalOptions: main.globalOptions,
      supportsJson: main.supportsJson,
      commands: [...specs.values()].sort((a, b) => a.name.localeCompare(b.name)),
    };
  }
}


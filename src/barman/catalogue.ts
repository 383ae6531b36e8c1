import type { BarmanHost, Clock, Logger, Storage } from '../ports.js';
import type { SettingsHolder } from '../context.js';
import { ApiError } from '../http/errors.js';
import { mapBounded } from '../util/concurrency.js';
import { aliasTarget, parseCommandHelp, parseMainHelp, parseVersion, type CommandSpec, type MainHelp, type OptionSpec } from './help-parser.js';

/** Everything the installed barman accepts, read from its own --help. */
export interface Catalogue {
  version: string;
  builtAt: string;
  /** Global options (`-c`, `-f` …), from `barman --help`. */
  globalOptions: OptionSpec[];
  supportsJson: boolean;
  commands: CommandSpec[];
  /**
   * Set while only part of the catalogue is known (one command's help, fetched on demand):
   * every command name and alias of barman's main help, for the 404 that lists them.
   */
  partial?: { names: string[] };
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
/** A word that may be a barman command (checked before it is asked for its help). */
const COMMAND_WORD_RE = /^[a-z][a-z0-9-]{0,63}$/;

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
  /** Before the whole catalogue is there: barman's version and main help, and the commands fetched one by one. */
  private basics: Promise<{ version: string; main: MainHelp }> | null = null;
  private basicsKnown: { version: string; main: MainHelp } | null = null;
  private readonly fetched = new Map<string, Promise<CommandSpec | null>>();

  constructor(private readonly deps: CatalogueDeps) {}

  /** The catalogue, building it on first use. */
  async get(): Promise<Catalogue> {
    if (this.current) {
      if (this.deps.clock.now().getTime() - this.checkedAt > VERSION_TTL_MS) this.recheckInBackground();
      return this.current;
    }
    return this.load(false);
  }

  /**
   * What running one command needs: the whole catalogue when it is there; else barman's version,
   * its main help and this command's help only, asked at once (a request never waits for the 28
   * other --help runs). The whole catalogue is built by get(): the server's housekeeping asks for
   * it in the background a few seconds after start, and /barman/help when it is called.
   */
  async forCommand(name: string): Promise<Catalogue> {
    if (this.current) return this.get();
    const lower = name.toLowerCase();
    this.basics ??= this.readBasics();
    // Once the main help is known, a word it does not list runs nothing; before, the command's
    // help is asked at the same time as the main help (the first request does not wait twice).
    const known = this.basicsKnown ? this.basicsKnown.main.commands.some((c) => c.name === lower || (c.aliases ?? []).includes(lower)) : true;
    const spec = COMMAND_WORD_RE.test(lower) && known ? this.fetchCommand(lower) : Promise.resolve(null);
    const [{ version, main }, found] = await Promise.all([this.basics, spec]);
    const names = main.commands.flatMap((c) => [c.name, ...(c.aliases ?? [])]);
    const listed = found ? main.commands.find((c) => c.name === found.name) : undefined;
    // The main help's aliases too: a deny rule naming any name of a command must see all of them.
    const commands = found && names.includes(lower)
      ? [{ ...found, aliases: [...new Set([...found.aliases, ...(listed?.aliases ?? [])])], description: found.description || listed?.description || '' }]
      : [];
    return { version, builtAt: this.deps.clock.now().toISOString(), globalOptions: main.globalOptions, supportsJson: main.supportsJson, commands, partial: { names } };
  }

  /**
   * What is known without asking barman: the whole catalogue (`loaded`), only barman's version and
   * main help (`partial`), or nothing yet (`none`).
   */
  describe(): { state: 'loaded' | 'partial' | 'none'; version: string | null; built_at: string | null } {
    if (this.current) return { state: 'loaded', version: this.current.version, built_at: this.current.builtAt };
    if (this.basicsKnown) return { state: 'partial', version: this.basicsKnown.version, built_at: null };
    return { state: 'none', version: null, built_at: null };
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

  private readBasics(): Promise<{ version: string; main: MainHelp }> {
    const basics = Promise.all([this.version(false), this.barman(['--help'], false)]).then(([version, text]) => {
      this.basicsKnown = { version, main: parseMainHelp(text) };
      return this.basicsKnown;
    });
    basics.catch(() => {
      if (this.basics === basics) this.basics = null; // asked again by the next request
    });
    return basics;
  }

  /** One command's spec from its own help (an alias's from its target's); null when barman has no such command. */
  private fetchCommand(name: string): Promise<CommandSpec | null> {
    let spec = this.fetched.get(name);
    if (!spec) {
      spec = (async () => {
        const text = await this.barman([name, '--help'], false).catch(() => null);
        if (text === null) return null;
        const target = aliasTarget(name, text);
        if (target === null || target === name) return parseCommandHelp(name, text);
        // argparse gives an alias its command's parser: this help is the command's own.
        const real = parseCommandHelp(target, text);
        return { ...real, aliases: [...new Set([...real.aliases, name])] };
      })();
      spec.then((s) => s === null && this.fetched.delete(name), () => this.fetched.delete(name));
      this.fetched.set(name, spec);
    }
    return spec;
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

  /** `background`: nobody waits (the whole catalogue), so it takes a barman slot only when no request waits. */
  private async barman(args: string[], background = true): Promise<string> {
    const { command, configFile } = this.deps.settings.current().barman;
    const r = await this.deps.host.run([...command, '-c', configFile, ...args], { timeoutMs: HELP_TIMEOUT_MS, background });
    // argparse prints help and exits 0; some old versions exit 0 with help on stderr.
    if (r.exitCode !== 0 || r.timedOut) {
      const why = r.timedOut ? 'timed out' : `exit code ${r.exitCode ?? r.signal}`;
      throw new ApiError(502, 'BarmanUnavailable', `cannot run barman on ${this.deps.host.description} (${[...command, ...args].join(' ')}: ${why}): ${(r.stderr || r.stdout).trim().slice(0, 500)}`);
    }
    return r.stdout || r.stderr;
  }

  private async version(background = true): Promise<string> {
    return parseVersion(await this.barman(['-v'], background));
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


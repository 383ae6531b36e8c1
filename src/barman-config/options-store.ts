/**
 * The option catalogue of the installed barman: its barman(5) page, found and read through the
 * BarmanHost, parsed once per barman version and kept under store/config/. Without a page the
 * built-in 3.4 catalogue answers, and `source` says so.
 */
import type { BarmanHost, Clock, Logger, Storage } from '../ports.js';
import type { SettingsHolder } from '../context.js';
import { BUILTIN_OPTION_CATALOGUE } from './builtin-options.js';
import { catalogueFromManPage, type BarmanOption, type OptionCatalogue } from './option-catalogue.js';
import { dirname } from '../util/path.js';

export interface OptionCatalogueDeps {
  settings: SettingsHolder;
  host: BarmanHost;
  storage: Storage;
  clock: Clock;
  logger: Logger;
}

export interface InstalledOptions {
  catalogue: OptionCatalogue;
  /** The barman version the catalogue was built for (from `barman -v`), null when barman could not be asked. */
  version: string | null;
  /** Where the page was read from; null for the built-in catalogue. */
  manPage: string | null;
  builtAt: string;
  /** Why the built-in catalogue is used, when it is. */
  fallbackReason?: string;
}

const CACHE_DIR = 'config';
/** A page yielding fewer options than this is not barman(5) (or not one this parser reads). */
const MIN_OPTIONS = 20;
const DECOMPRESSORS: Array<[string, string[]]> = [
  ['.gz', ['gzip', '-dc', '--']],
  ['.xz', ['xz', '-dc', '--']],
  ['.bz2', ['bzip2', '-dc', '--']],
];

/**
 * Options barman 3.4 reads but its page does not document: accepted as keys by the editor and
 * listed by /config/barman/help with `documented: false`.
 */
export const UNDOCUMENTED_OPTIONS: BarmanOption[] = [
  {
    name: 'barman_user', scopes: ['global'], type: 'string', choices: null, default: 'barman', executes: false,
    description: 'The system user barman runs as; barman switches to it when started as root.',
  },
  {
    name: 'configuration_files_directory', scopes: ['global'], type: 'path', choices: null, default: null, executes: false,
    description: 'A folder whose *.conf files barman reads after the main file, in sorted order (one per server, usually).',
  },
  {
    name: 'log_format', scopes: ['global'], type: 'string', choices: null, default: '%(asctime)s [%(process)s] %(name)s %(levelname)s: %(message)s', executes: false,
    description: "Python logging format of barman's log lines.",
  },
];

export class OptionCatalogueStore {
  private current: InstalledOptions | null = null;
  private building: Promise<InstalledOptions> | null = null;

  /** `versionOf` answers the installed barman's version (the command catalogue knows it). */
  constructor(
    private readonly deps: OptionCatalogueDeps,
    private readonly versionOf: () => Promise<string>,
  ) {}

  async get(): Promise<InstalledOptions> {
    const version = await this.versionOf().catch(() => null);
    if (this.current && (version === null || this.current.version === version)) return this.current;
    return this.load(version, false);
  }

  /** /config/barman/reload: read the page again whatever is cached. */
  async reload(): Promise<InstalledOptions> {
    const version = await this.versionOf().catch(() => null);
    return this.load(version, true);
  }

  private load(version: string | null, force: boolean): Promise<InstalledOptions> {
    this.building ??= (async () => {
      try {
        const path = version === null ? null : `${CACHE_DIR}/barman-options-${version.replace(/[^A-Za-z0-9._-]/g, '_')}.json`;
        let found = !force && path ? await this.readCache(path, version) : null;
        if (!found) {
          found = await this.build(version);
          // Only a parsed page is worth keeping: the built-in catalogue is in the code already.
          if (path && found.catalogue.source === 'man') await this.deps.storage.writeAtomic(path, JSON.stringify(found));
          this.deps.logger.log('info', `barman options: ${found.catalogue.options.length} from ${found.manPage ?? 'the built-in catalogue'}`, { version });
        }
        this.current = found;
        return found;
      } finally {
        this.building = null;
      }
    })();
    return this.building;
  }

  private async readCache(path: string, version: string | null): Promise<InstalledOptions | null> {
    const text = await this.deps.storage.readText(path);
    if (!text) return null;
    try {
      const cached = JSON.parse(text) as InstalledOptions;
      return cached.version === version && Array.isArray(cached.catalogue?.options) ? cached : null;
    } catch {
      this.deps.logger.log('warn', `ignoring unreadable option catalogue cache ${path}`);
      return null;
    }
  }

  private async build(version: string | null): Promise<InstalledOptions> {
    const builtAt = this.deps.clock.now().toISOString();
    const fallback = (reason: string): InstalledOptions => ({ catalogue: BUILTIN_OPTION_CATALOGUE, version, manPage: null, builtAt, fallbackReason: reason });
    const page = await this.findManPage();
    if (!page) return fallback(`no barman(5) page found on ${this.deps.host.description}`);
    let troff: string;
    try {
      troff = await this.readManPage(page);
    } catch (err) {
      return fallback(`cannot read ${page}: ${(err as Error).message}`);
    }
    const catalogue = catalogueFromManPage(troff);
    if (catalogue.options.length < MIN_OPTIONS) return fallback(`${page} documents only ${catalogue.options.length} options`);
    return { catalogue, version, manPage: page, builtAt };
  }

  /** Beside the barman executable first (a pip or /opt install), then the usual places, then man -w. */
  private async findManPage(): Promise<string | null> {
    const host = this.deps.host;
    const executable = this.deps.settings.current().barman.command[this.deps.settings.current().barman.command.length - 1] ?? '';
    const prefixes = executable.startsWith('/') ? [dirname(dirname(executable))] : [];
    prefixes.push('/usr', '/usr/local');
    const candidates = [...new Set(prefixes.flatMap((p) => ['.gz', ''].map((ext) => `${p === '/' ? '' : p}/share/man/man5/barman.5${ext}`)))];
    for (const path of candidates) {
      const info = await host.stat(path).catch(() => null);
      if (info && !info.isDirectory) return path;
    }
    const r = await host.run(['man', '-w', '5', 'barman'], { timeoutMs: 10_000, maxOutputBytes: 4096, background: true }).catch(() => null);
    const path = r?.exitCode === 0 ? r.stdout.split('\n')[0]?.trim() : undefined;
    return path && /^\/[^\0]*\/barman\.5(?:\.(?:gz|xz|bz2))?$/.test(path) ? path : null;
  }

  private async readManPage(path: string): Promise<string> {
    const decompress = DECOMPRESSORS.find(([ext]) => path.endsWith(ext));
    if (!decompress) {
      const text = await this.deps.host.readFile(path);
      if (text === null) throw new Error('file vanished');
      return text;
    }
    const r = await this.deps.host.run([...decompress[1], path], { timeoutMs: 20_000, maxOutputBytes: 4 * 1024 * 1024, background: true });
    if (r.exitCode !== 0 || r.truncated) throw new Error(`${decompress[1][0]} failed: ${(r.stderr || `exit code ${r.exitCode}`).trim().slice(0, 200)}`);
    return r.stdout;
  }
}

/** Every option the editor accepts: the catalogue's, then the undocumented ones it lacks. */
export function knownOptions(catalogue: OptionCatalogue): Array<BarmanOption & { documented: boolean }> {
  const documented = catalogue.options.map((o) => ({ ...o, documented: true }));
  const names = new Set(documented.map((o) => o.name));
  return [...documented, ...UNDOCUMENTED_OPTIONS.filter((o) => !names.has(o.name)).map((o) => ({ ...o, documented: false }))];
}

/**
 * The one reader of a settings file, for the loader (which refuses a file it cannot read whole)
 * and for /config/barmanapi (which shows and edits what it can, with the problems as warnings).
 * INI (the seed's format) unless the name ends in .toml, in any case.
 */
import { parse as parseToml } from 'smol-toml';
import { IniDocument } from '../ini/document.js';
import { canonicalSection, findSetting, SECTION_ALIASES, SETTINGS, type SettingSpec } from './schema.js';
import { didYouMean } from './suggest.js';
import { SettingsError } from './errors.js';
import { hostNameProblem } from '../hosts/names.js';

export interface FileEntry {
  spec: SettingSpec;
  /** As the file has it: text for INI, any TOML value for TOML. */
  value: unknown;
  /** The spellings the file used. */
  section: string;
  key: string;
  /** Set for a key of a further barman host's section (`[host:NAME]`; `[host.NAME]` in TOML): its spec is [barman]'s. */
  host?: string;
}

export interface SettingsFileContent {
  /** In file order; a setting given twice (under any spelling) appears twice, the last one wins. */
  entries: FileEntry[];
  warnings: string[];
}

export function isToml(path: string | null): boolean {
  return path !== null && path.toLowerCase().endsWith('.toml');
}

/**
 * Unknown sections and keys are warnings (with a did-you-mean). A file that cannot be parsed is a
 * SettingsError; a line the INI reader cannot place is one too when `strict`, else a warning.
 */
export function readSettingsFile(text: string, path: string | null, opts: { strict: boolean }): SettingsFileContent {
  const where = path ?? '(settings)';
  const entries: FileEntry[] = [];
  const warnings: string[] = [];
  const add = (section: string, key: string, value: unknown) => {
    const spec = findSetting(section, key);
    if (spec) {
      entries.push({ spec, value, section, key });
      return;
    }
    const keys = SETTINGS.filter((s) => s.section === canonicalSection(section)).flatMap((s) => [s.key, ...(s.aliases ?? [])]);
    warnings.push(`${where}: [${section}] ${key}: unknown setting, ignored${didYouMean(key, keys)}`);
  };
  const addSection = (section: string, values: Iterable<[string, unknown]>) => {
    if (!canonicalSection(section)) warnings.push(`${where}: [${section}]: unknown section, ignored${didYouMean(section, knownSections())}`);
    else for (const [key, value] of values) add(section, key, value);
  };
  /** A further barman host: the keys of [barman], under the host's name. */
  const addHost = (section: string, name: string, values: Iterable<[string, unknown]>) => {
    const problem = hostNameProblem(name);
    if (problem) throw new SettingsError(path, section, null, problem);
    for (const [key, value] of values) {
      const spec = findSetting('barman', key);
      if (spec) entries.push({ spec, value, section, key, host: name });
      else warnings.push(`${where}: [${section}] ${key}: unknown setting, ignored${didYouMean(key, SETTINGS.filter((x) => x.section === 'barman').flatMap((x) => [x.key, ...(x.aliases ?? [])]))}`);
    }
  };

  if (isToml(path)) {
    let doc: Record<string, unknown>;
    try {
      doc = parseToml(text) as Record<string, unknown>;
    } catch (e) {
      throw new SettingsError(path, null, null, `not valid TOML: ${(e as Error).message.split('\n')[0]}`);
    }
    for (const [section, table] of Object.entries(doc)) {
      if (section.toLowerCase() === HOST_SECTION && isTable(table)) {
        for (const [name, host] of Object.entries(table)) {
          if (isTable(host)) addHost(`${section}.${name}`, name, Object.entries(host));
          else throw new SettingsError(path, `${section}.${name}`, null, `expected a table ([${section}.${name}]) with the keys of [barman]`);
        }
      } else if (isTable(table)) addSection(section, Object.entries(table));
      else if (opts.strict) throw new SettingsError(path, section, null, 'expected a table ([section])');
      else warnings.push(`${where}: [${section}]: not a table, ignored`);
    }
    return { entries, warnings };
  }
  const doc = new IniDocument(text);
  if (opts.strict && doc.problems[0]) throw new SettingsError(path, null, null, doc.problems[0].message);
  for (const p of doc.problems) warnings.push(`${where}: ${p.message}`);
  // As Python's configparser: a section named twice is refused, since only one of the two would be read.
  const names = doc.sectionNames();
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) {
    const problem = `[${twice}] appears twice; only one of them would be read: merge them into one section`;
    if (opts.strict) throw new SettingsError(path, twice, null, problem);
    warnings.push(`${where}: ${problem}`);
  }
  for (const section of new Set(names)) {
    const host = /^host:(.*)$/i.exec(section);
    if (host) addHost(section, host[1]!, Object.entries(doc.values(section)));
    else addSection(section, Object.entries(doc.values(section)));
  }
  return { entries, warnings };
}

/** The section that names further barman hosts: `[host:NAME]` in INI, `[host.NAME]` in TOML. */
const HOST_SECTION = 'host';

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function knownSections(): string[] {
  return [...new Set([...SETTINGS.map((s) => s.section), ...Object.values(SECTION_ALIASES).flat()])];
}

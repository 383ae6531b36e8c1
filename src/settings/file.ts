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

export interface FileEntry {
  spec: SettingSpec;
  /** As the file has it: text for INI, any TOML value for TOML. */
  value: unknown;
  /** The spellings the file used. */
  section: string;
  key: string;
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

  if (isToml(path)) {
    let doc: Record<string, unknown>;
    try {
      doc = parseToml(text) as Record<string, unknown>;
    } catch (e) {
      throw new SettingsError(path, null, null, `not valid TOML: ${(e as Error).message.split('\n')[0]}`);
    }
    for (const [section, table] of Object.entries(doc)) {
      if (typeof table === 'object' && table !== null && !Array.isArray(table)) addSection(section, Object.entries(table));
      else if (opts.strict) throw new SettingsError(path, section, null, 'expected a table ([section])');
      else warnings.push(`${where}: [${section}]: not a table, ignored`);
    }
    return { entries, warnings };
  }
  const doc = new IniDocument(text);
  if (opts.strict && doc.problems[0]) throw new SettingsError(path, null, null, doc.problems[0].message);
  for (const p of doc.problems) warnings.push(`${where}: ${p.message}`);
  for (const section of new Set(doc.sectionNames())) addSection(section, Object.entries(doc.values(section)));
  return { entries, warnings };
}

function knownSections(): string[] {
  return [...new Set([...SETTINGS.map((s) => s.section), ...Object.values(SECTION_ALIASES).flat()])];
}

/**
 * barman's configuration as barman itself assembles it: the main file, then every `*.conf` of
 * `configuration_files_directory` in sorted order, merged the way barman's non-strict
 * configparser merges them (a later file's key wins). Everything is read through the
 * BarmanHost, so the same code serves a local barman and one reached over SSH/SFTP.
 */
import { redactValue } from '../util/redact.js';
import type { BarmanHost } from '../ports.js';
import { ApiError } from '../http/errors.js';
import { IniDocument, type IniProblem } from '../ini/document.js';
import { joinPath } from '../util/path.js';
import { describeFileError } from '../files/errors.js';

export type SectionKind = 'global' | 'server' | 'model';

export interface ConfigFileSection {
  name: string;
  kind: SectionKind;
  options: Record<string, string>;
}

export interface ConfigFile {
  path: string;
  role: 'main' | 'include';
  text: string;
  doc: IniDocument;
  sections: ConfigFileSection[];
  /** Lines configparser (and so barman) would refuse. */
  problems: IniProblem[];
}

export interface MergedSection {
  name: string;
  kind: SectionKind;
  /** Where a new key of this section goes: the last file that holds it, which barman reads last. */
  file: string;
  /** Every file holding the section, in the order barman reads them. */
  files: string[];
  options: Record<string, string>;
  /** The file each option's effective value comes from. */
  origins: Record<string, string>;
}

export interface BarmanConfigView {
  mainFile: string;
  /**
   * `configuration_files_directory` as written; the folder it resolves to (null when unset or
   * unresolvable); whether that folder exists, so new server files can go there.
   */
  directory: { configured: string | null; resolved: string | null; usable: boolean };
  files: ConfigFile[];
  sections: MergedSection[];
  warnings: string[];
}

/** barman's boolean words (barman/config.py parse_boolean). */
const TRUE_WORDS = /^(?:true|t|yes|1|on)$/i;

/** barman strips one pair of matching quotes around a value (Config._QUOTE_RE). */
export function unquote(value: string): string {
  const m = /^(["'])(.*)\1$/s.exec(value);
  return m ? m[2]! : value;
}

export async function readBarmanConfig(host: BarmanHost, mainFile: string): Promise<BarmanConfigView> {
  const warnings: string[] = [];
  const mainText = await readOrExplain(host, mainFile);
  if (mainText === null) {
    throw new ApiError(500, 'BarmanConfigMissing', `barman's configuration file ${mainFile} does not exist on ${host.description}; set [barman] configfile in the barmanapi settings`, {
      file: mainFile,
    });
  }
  const files: ConfigFile[] = [describeFile(mainFile, 'main', mainText)];
  const configured = globalValue(files[0]!.doc, 'configuration_files_directory');
  const resolved = configured === null ? null : await resolveDirectory(host, configured, files[0]!.doc, warnings);
  let usable = false;

  if (resolved !== null) {
    const info = await host.stat(resolved);
    usable = info?.isDirectory === true;
    if (!usable) {
      warnings.push(`configuration_files_directory ${resolved} is not a directory on ${host.description}; barman ignores it too`);
    } else {
      // glob('*.conf') skips dot files; sorted() orders by code point, as a JS sort does here.
      const names = (await host.listDir(resolved)).filter((n) => n.endsWith('.conf') && !n.startsWith('.')).sort();
      for (const name of names) {
        const path = joinPath(resolved, name);
        const entry = await host.stat(path);
        if (!entry || entry.isDirectory) {
          warnings.push(`${path} is not a file; barman skips it`);
          continue;
        }
        const text = await readOrExplain(host, path);
        if (text === null) continue; // removed between listing and reading
        const file = describeFile(path, 'include', text);
        if (file.doc.hasSection('barman') && Object.keys(file.doc.values('barman')).length > 0) {
          warnings.push(`${path} has keys in a [barman] section: barman refuses to start with such a file`);
        }
        files.push(file);
      }
    }
  }
  for (const f of files) for (const p of f.problems) warnings.push(`${f.path}: ${p.message}`);
  return { mainFile, directory: { configured, resolved, usable }, files, sections: merge(files), warnings };
}

/** A file's text, or null when it does not exist; other failures become a clear ApiError. */
async function readOrExplain(host: BarmanHost, path: string): Promise<string | null> {
  try {
    return await host.readFile(path);
  } catch (err) {
    throw describeFileError(err, 'read', path, host);
  }
}

function describeFile(path: string, role: ConfigFile['role'], text: string): ConfigFile {
  const doc = new IniDocument(text);
  const sections = doc.sectionNames()
    .filter((name, i, all) => all.indexOf(name) === i)
    .map((name) => {
      const options = doc.values(name);
      return { name, kind: kindOf(name, options), options };
    });
  return { path, role, text, doc, sections, problems: doc.problems };
}

export function kindOf(name: string, options: Record<string, string>): SectionKind {
  if (name === 'barman') return 'global';
  return options.model !== undefined && TRUE_WORDS.test(unquote(options.model.trim())) ? 'model' : 'server';
}

function merge(files: ConfigFile[]): MergedSection[] {
  const byName = new Map<string, MergedSection>();
  for (const file of files) {
    for (const section of file.sections) {
      let merged = byName.get(section.name);
      if (!merged) {
        merged = { name: section.name, kind: 'server', file: file.path, files: [], options: {}, origins: {} };
        byName.set(section.name, merged);
      }
      merged.file = file.path;
      merged.files.push(file.path);
      for (const [key, value] of Object.entries(section.options)) {
        merged.options[key] = value;
        merged.origins[key] = file.path;
      }
    }
  }
  for (const s of byName.values()) s.kind = kindOf(s.name, s.options);
  return [...byName.values()];
}

/** A [barman] value as barman reads it: quotes stripped, `none` meaning unset. */
function globalValue(doc: IniDocument, key: string): string | null {
  const raw = doc.get('barman', key);
  if (raw === undefined) return null;
  const value = unquote(raw.trim());
  return value === '' || value.toLowerCase() === 'none' ? null : value;
}

/**
 * barman expands `~` (os.path.expanduser) as the user it runs as, which is `barman_user`
 * (it switches to that user when started as root). A relative path is relative to barman's
 * working directory, which the API cannot know; it is reported rather than guessed.
 */
async function resolveDirectory(host: BarmanHost, configured: string, main: IniDocument, warnings: string[]): Promise<string | null> {
  if (configured.startsWith('/')) return configured;
  const tilde = /^~([^/]*)(\/.*)?$/.exec(configured);
  if (tilde) {
    const user = tilde[1] || globalValue(main, 'barman_user') || 'barman';
    const home = await homeOf(host, user);
    if (home === null) {
      warnings.push(`configuration_files_directory ${configured}: cannot find the home folder of ${user} in /etc/passwd on ${host.description}`);
      return null;
    }
    return joinPath(home, tilde[2] ?? '');
  }
  warnings.push(`configuration_files_directory ${configured} is relative to the folder barman is started from, which the API cannot know; write an absolute path`);
  return null;
}

async function homeOf(host: BarmanHost, user: string): Promise<string | null> {
  const passwd = await host.readFile('/etc/passwd').catch(() => null);
  for (const line of (passwd ?? '').split('\n')) {
    const fields = line.split(':');
    if (fields[0] === user && fields[5]?.startsWith('/')) return fields[5];
  }
  return null;
}

export { redactValue };

/** The read-only view sent to clients: no texts, no parser objects, passwords hidden. */
export function publicView(view: BarmanConfigView) {
  const redacted = (options: Record<string, string>) =>
    Object.fromEntries(Object.entries(options).map(([k, v]) => [k, redactValue(v)]));
  return {
    mainFile: view.mainFile,
    directory: view.directory,
    files: view.files.map((f) => ({
      path: f.path,
      role: f.role,
      sections: f.sections.map((s) => ({ name: s.name, kind: s.kind, model: s.kind === 'model', options: redacted(s.options) })),
      problems: f.problems.map((p) => ({ ...p, message: redactValue(p.message) })),
    })),
    sections: view.sections.map((s) => ({ ...s, model: s.kind === 'model', options: redacted(s.options) })),
    warnings: view.warnings.map(redactValue),
  };
}

/**
 * barman's configuration options as barman(5) documents them. The man page is the one source
 * that travels with every barman install and matches that install's version, so the catalogue
 * is read from it; `builtin-options.ts` is the fallback when a host has no man page.
 *
 * Pages seen in the wild are all pandoc output, with small differences between releases
 * (`.TP` + `.B name` in 2.x/3.4, `.TP` + a plain or `\f[B]` term in other pandoc versions,
 * "Scope: Global/Server/Model." sentences from 3.10 on). Metadata is read only from sentences
 * the page states plainly; anything else stays `unknown`/null rather than guessed.
 */
import { describeOption } from './option-description.js';
import { inlineText, macroArguments, stripMarks } from './troff.js';

export type OptionScope = 'global' | 'server' | 'model';

export type OptionType =
  | 'string'
  | 'boolean'
  | 'integer'
  | 'enum'
  | 'path'
  | 'command'
  | 'list'
  | 'size'
  | 'interval'
  | 'unknown';

export interface BarmanOption {
  name: string;
  description: string;
  /** Where the option may be set, in the order global, server, model; empty when the page does not say. */
  scopes: OptionScope[];
  type: OptionType;
  /** For `enum`, the allowed values; for `list`, the allowed items; null when not enumerated. */
  choices: string[] | null;
  /** The documented default; '' for "empty"/"None"; null when the page states none. */
  default: string | null;
  /**
   * barman executes the value as a command or prefixes commands with it: hooks, ssh_command,
   * path_prefix, *_script, *_retry_script, ...
   */
  executes: boolean;
}

export interface OptionCatalogue {
  source: 'man' | 'builtin';
  barmanVersion: string | null;
  options: BarmanOption[];
}

// ---------------------------------------------------------------------------------------------
// Options whose value ends up executed. Edits to these are how a config writer would gain a
// shell on the barman host, so the API restricts them; a name pattern catches hooks and
// commands added by barman releases newer than this list.

/** Named individually: their names do not say that barman runs them. */
const EXECUTABLE_OPTION_NAMES: ReadonlySet<string> = new Set([
  'path_prefix', // directories searched first for every binary barman runs
  'custom_compression_filter', // run as a shell pipeline on every WAL file
  'custom_decompression_filter',
]);

/** Hook scripts (pre_/post_, retry or not), *_ssh_command and any future *_command/*_filter. */
const EXECUTABLE_OPTION_PATTERN = /(?:_script|_command|_filter)$/;

export function isExecutableOption(name: string): boolean {
  const key = name.trim().toLowerCase();
  return EXECUTABLE_OPTION_NAMES.has(key) || EXECUTABLE_OPTION_PATTERN.test(key);
}

export function findOption(cat: OptionCatalogue, key: string): BarmanOption | undefined {
  // configparser lowercases option names, so barman itself matches them case-insensitively.
  const wanted = key.trim().toLowerCase();
  return cat.options.find((option) => option.name.toLowerCase() === wanted);
}

/** The version in the page's `.TH` line ("Version 3.4.0"), if it has one. */
export function readManPageVersion(troff: string): string | null {
  const th = troff.split(/\r?\n/).find((line) => /^\.TH\s/.test(line));
  const match = th ? /Version\s+(\d+(?:\.\d+)*)/i.exec(th) : null;
  return match?.[1] ?? null;
}

export function catalogueFromManPage(troff: string): OptionCatalogue {
  return { source: 'man', barmanVersion: readManPageVersion(troff), options: parseBarmanManPage(troff) };
}

/** First sentence of a description: the short form kept in the built-in catalogue. */
export function firstSentence(description: string): string {
  const paragraph = description.split(/\n/)[0] ?? '';
  const end = /[.!?](?=\s+[A-Z"'`]|$)/.exec(paragraph);
  return end ? paragraph.slice(0, end.index + 1) : paragraph;
}

// ---------------------------------------------------------------------------------------------
// Parsing

const OPTION_NAME = /^[a-z][a-z0-9_]*$/;

export interface RawEntry {
  name: string;
  lines: string[];
}

export function parseBarmanManPage(troff: string): BarmanOption[] {
  const options: BarmanOption[] = [];
  // The two marker characters must not come from the page itself.
  const lines = troff.replace(/[\u0001\u0002]/g, '').split(/\r?\n/);
  const entries = splitEntries(optionSectionLines(lines));
  const names = new Set(entries.map((entry) => entry.name));
  for (const entry of entries) {
    if (options.some((option) => option.name === entry.name)) continue;
    options.push(describeOption(entry, names));
  }
  return options;
}

/** Lines of every `.SH` section whose title mentions options; the whole page if none does. */
function optionSectionLines(lines: string[]): string[] {
  const picked: string[] = [];
  let inside = false;
  let found = false;
  for (const line of lines) {
    const heading = /^\.SH\s+(.*)$/.exec(line);
    if (heading) {
      inside = /OPTION/i.test(heading[1] ?? '');
      found ||= inside;
      continue;
    }
    if (inside) picked.push(line);
  }
  return found ? picked : lines;
}

/**
 * One entry per top-level `.TP` whose term is an option name. `.RS`/`.RE` depth keeps nested
 * definition lists inside their option. Also recovers a term pandoc failed to mark up: in
 * 2.19 and 3.4, `log_file` is a bare line followed by an empty `.RS`/`.RE` block.
 */
function splitEntries(lines: string[]): RawEntry[] {
  const entries: RawEntry[] = [];
  let current: RawEntry | null = null;
  let depth = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (/^\.S[HS]\b/.test(line)) {
      current = null;
      depth = 0;
      continue;
    }
    if (depth === 0 && /^\.TP\b/.test(line)) {
      const name = termName(lines[i + 1] ?? '');
      if (name !== null) {
        current = { name, lines: [] };
        entries.push(current);
        i++;
        continue;
      }
    }
    if (depth === 0 && OPTION_NAME.test(line) && line.includes('_') && isEmptyBlock(lines, i + 1)) {
      current = { name: line, lines: [] };
      entries.push(current);
      continue;
    }
    if (/^\.RS\b/.test(line)) depth++;
    if (/^\.RE\b/.test(line)) depth = Math.max(0, depth - 1);
    current?.lines.push(line);
  }
  return entries;
}

function isEmptyBlock(lines: string[], at: number): boolean {
  return /^\.RS\b/.test(lines[at] ?? '') && /^\.RE\b/.test(lines[at + 1] ?? '');
}

function termName(line: string): string | null {
  const text = line.startsWith('.') ? macroArguments(line) : line;
  const name = stripMarks(inlineText(text, { code: false })).trim();
  return OPTION_NAME.test(name) ? name : null;
}

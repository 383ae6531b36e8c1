/**
 * A configparser-compatible INI document that edits in place: every line it does not have to
 * change stays byte for byte (comments, blank lines, spacing, order, line endings, a missing
 * final newline). Used for barman.conf, barman's server files, client.conf and barmanapi.conf.
 *
 * Syntax understood (Python configparser defaults, which barman and the seed use):
 * `[section]` headers; `key = value` or `key: value` (first delimiter wins); full-line comments
 * starting with `#` or `;`; continuation lines indented deeper than their key; keys compared
 * case-insensitively (configparser lowercases them).
 */

export interface IniEntry {
  section: string;
  /** The key as written in the file. */
  key: string;
  /** Lower-cased key, as configparser sees it. */
  name: string;
  /** The value, continuation lines joined with '\n', surrounding spaces trimmed. */
  value: string;
  /** Index of the first and last line of the entry (continuations included). */
  first: number;
  last: number;
}

export interface IniSection {
  name: string;
  /** Line index of the `[name]` header; -1 for keys before any header. */
  header: number;
  entries: IniEntry[];
}

export interface IniProblem {
  line: number;
  message: string;
}

const SECTION_RE = /^\[([^\]]+)\]\s*(?:[#;].*)?$/;
const KEY_RE = /^([^=:\s][^=:]*?)(\s*[=:]\s*)(.*)$/;

export class IniDocument {
  /** Each line keeps its own terminator, so mixed endings and a missing final newline survive. */
  private lines: string[];
  private eol: string;
  private parsed!: { sections: IniSection[]; problems: IniProblem[] };

  constructor(text: string) {
    this.eol = text.includes('\r\n') ? '\r\n' : '\n';
    this.lines = splitKeepingEol(text);
    this.reparse();
  }

  get sections(): IniSection[] {
    return this.parsed.sections;
  }

  /** Lines the parser could not read (configparser would refuse the file). */
  get problems(): IniProblem[] {
    return this.parsed.problems;
  }

  sectionNames(): string[] {
    return this.parsed.sections.filter((s) => s.header >= 0).map((s) => s.name);
  }

  hasSection(name: string): boolean {
    return this.findSection(name) !== undefined;
  }

  /** Values of a section, keys lower-cased; the last of duplicate keys wins, as in configparser. */
  values(section: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const e of this.findSection(section)?.entries ?? []) out[e.name] = e.value;
    return out;
  }

  /** All sections with their values, in file order. */
  toObject(): Record<string, Record<string, string>> {
    const out: Record<string, Record<string, string>> = {};
    for (const s of this.parsed.sections) {
      if (s.header < 0) continue;
      out[s.name] = { ...(out[s.name] ?? {}), ...this.values(s.name) };
    }
    return out;
  }

  get(section: string, key: string): string | undefined {
    return this.findEntry(section, key)?.value;
  }

  /** Set a key: rewrites only its own line(s), or adds one line after the section's last key. */
  set(section: string, key: string, value: string): void {
    assertSingleLine(key, 'key');
    assertSingleLine(value, 'value');
    const entry = this.findEntry(section, key);
    if (entry) {
      const raw = stripEol(this.lines[entry.first] ?? '');
      const m = KEY_RE.exec(raw);
      const prefix = m ? `${m[1]}${m[2]}` : `${key} = `;
      const spacedPrefix = value === '' ? prefix.replace(/\s+$/, '') : prefix;
      const eolOf = /\r?\n$/.exec(this.lines[entry.last] ?? '')?.[0] ?? '';
      this.lines.splice(entry.first, entry.last - entry.first + 1, `${spacedPrefix}${value}${eolOf}`);
      this.reparse();
      return;
    }
    const sec = this.findSection(section);
    if (!sec) throw new Error(`no section [${section}]`);
    const after = sec.entries.length > 0 ? sec.entries[sec.entries.length - 1]!.last : sec.header;
    this.insertLines(after + 1, [`${key} = ${value}`]);
  }

  /** Remove a key and its continuation lines; returns whether it existed. */
  remove(section: string, key: string): boolean {
    const entry = this.findEntry(section, key);
    if (!entry) return false;
    this.lines.splice(entry.first, entry.last - entry.first + 1);
    this.reparse();
    return true;
  }

  /** Append a new section with its keys at the end of the file, separated by a blank line. */
  addSection(name: string, values: Record<string, string> = {}): void {
    assertSingleLine(name, 'section');
    if (this.hasSection(name)) throw new Error(`section [${name}] exists`);
    const block = [`[${name}]`, ...Object.entries(values).map(([k, v]) => {
      assertSingleLine(k, 'key');
      assertSingleLine(v, 'value');
      return `${k} = ${v}`;
    })];
    const needsBlank = this.lines.length > 0 && stripEol(this.lines[this.lines.length - 1]!).trim() !== '';
    this.insertLines(this.lines.length, needsBlank ? ['', ...block] : block);
  }

  /** Remove a whole section (header, keys and the comments between them). */
  removeSection(name: string): boolean {
    const idx = this.parsed.sections.findIndex((s) => s.header >= 0 && s.name === name);
    if (idx < 0) return false;
    const start = this.parsed.sections[idx]!.header;
    const next = this.parsed.sections.slice(idx + 1).find((s) => s.header >= 0);
    const end = next ? next.header : this.lines.length;
    this.lines.splice(start, end - start);
    this.reparse();
    return true;
  }

  toString(): string {
    return this.lines.join('');
  }

  private insertLines(at: number, newLines: string[]): void {
    // Inserting after the file's last line, which may lack a terminator: it needs one now.
    const prev = this.lines[at - 1];
    if (prev !== undefined && !prev.endsWith('\n')) this.lines[at - 1] = prev + this.eol;
    this.lines.splice(at, 0, ...newLines.map((l) => l + this.eol));
    this.reparse();
  }

  private findSection(name: string): IniSection | undefined {
    // configparser merges repeated headers only in non-strict mode; the last header holds new keys.
    const all = this.parsed.sections.filter((s) => s.header >= 0 && s.name === name);
    return all[all.length - 1];
  }

  private findEntry(section: string, key: string): IniEntry | undefined {
    const name = key.toLowerCase();
    let found: IniEntry | undefined;
    for (const s of this.parsed.sections) {
      if (s.header < 0 || s.name !== section) continue;
      for (const e of s.entries) if (e.name === name) found = e;
    }
    return found;
  }

  private reparse(): void {
    const sections: IniSection[] = [{ name: '', header: -1, entries: [] }];
    const problems: IniProblem[] = [];
    let current = sections[0]!;
    let open: { entry: IniEntry; indent: number } | null = null;
    this.lines.forEach((rawLine, i) => {
      const line = stripEol(rawLine);
      const trimmed = line.trim();
      const indent = line.length - line.trimStart().length;
      if (trimmed === '') {
        open = null;
        return;
      }
      if (trimmed.startsWith('#') || trimmed.startsWith(';')) return;
      if (open && indent > open.indent) {
        open.entry.value = open.entry.value === '' ? trimmed : `${open.entry.value}\n${trimmed}`;
        open.entry.last = i;
        return;
      }
      open = null;
      const sec = SECTION_RE.exec(trimmed);
      if (sec && indent === 0) {
        current = { name: sec[1]!, header: i, entries: [] };
        sections.push(current);
        return;
      }
      const kv = KEY_RE.exec(trimmed);
      if (!kv) {
        problems.push({ line: i + 1, message: `cannot parse line ${i + 1}: ${JSON.stringify(trimmed.slice(0, 60))}` });
        return;
      }
      if (current.header < 0) {
        problems.push({ line: i + 1, message: `line ${i + 1}: key "${kv[1]!.trim()}" before any [section]` });
      }
      const key = kv[1]!.trim();
      const entry: IniEntry = { section: current.name, key, name: key.toLowerCase(), value: kv[3]!.trim(), first: i, last: i };
      current.entries.push(entry);
      open = { entry, indent };
    });
    this.parsed = { sections, problems };
  }
}

function splitKeepingEol(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\n') {
      out.push(text.slice(start, i + 1));
      start = i + 1;
    }
  }
  if (start < text.length) out.push(text.slice(start));
  return out;
}

function stripEol(line: string): string {
  return line.replace(/\r?\n$/, '');
}

function assertSingleLine(text: string, what: string): void {
  // eslint-disable-next-line no-control-regex
  if (/[\r\n\u0000]/.test(text)) throw new Error(`${what} must be a single line`);
}

/** Parse a list written as the seed writes it (`['a','b']`, `["a"]`, `[]`) or as `a, b`. */
export function parseList(raw: string | undefined): string[] {
  if (raw === undefined) return [];
  let text = raw.trim();
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1);
  return text
    .split(',')
    .map((s) => s.trim().replace(/^(['"])(.*)\1$/, '$2').trim())
    .filter((s) => s.length > 0);
}

/**
 * What makes a list unreadable, or null: an unclosed bracket or quote, an item with quotes
 * inside it. `['backup','cron'` must not quietly become the list it was nearly meant to be.
 */
export function listProblem(raw: string): string | null {
  const text = raw.trim();
  const open = text.startsWith('[');
  const close = text.endsWith(']');
  if (open !== close) return open ? "a '[' without its ']'" : "a ']' without its '['";
  const body = open ? text.slice(1, -1) : text;
  if (/[[\]]/.test(body)) return 'a bracket inside the list';
  for (const item of body.split(',')) {
    const t = item.trim();
    if (t === '') continue;
    const quoted = /^(['"])(.*)\1$/.exec(t);
    const inner = quoted ? quoted[2]! : t;
    if (/['"]/.test(inner)) return `an unclosed or stray quote in ${t}`;
  }
  return null;
}

/** Write a list in the seed's Python-list form, which old and new readers both accept. */
export function formatList(items: readonly string[]): string {
  return `[${items.map((s) => `'${s}'`).join(', ')}]`;
}

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
import { FALSE_WORDS, TRUE_WORDS } from '../http/params.js';

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

/** Code spans are kept in the marked text between these two characters; values live there. */
const CODE_OPEN = '\u0001';
const CODE_CLOSE = '\u0002';
const OPTION_NAME = /^[a-z][a-z0-9_]*$/;

interface RawEntry {
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

// ---------------------------------------------------------------------------------------------
// troff → text

interface Rendered {
  /** Plain text, paragraphs separated by a blank line, bullets one per line. */
  plain: string;
  /** The same text with code spans wrapped in CODE_OPEN/CODE_CLOSE. */
  marked: string;
}

type BlockKind = 'para' | 'bullet' | 'pre';

function renderTroff(lines: string[]): Rendered {
  const blocks: { kind: BlockKind; text: string[] }[] = [];
  const at: { block: { kind: BlockKind; text: string[] } | null; noFill: boolean; term: boolean } = {
    block: null,
    noFill: false,
    term: false,
  };
  const state = { code: false };
  const start = (kind: BlockKind) => {
    at.block = { kind, text: [] };
    blocks.push(at.block);
    return at.block;
  };
  const add = (text: string) => {
    (at.block ?? start(at.noFill ? 'pre' : 'para')).text.push(text);
    // The term of a nested `.TP` is a paragraph of its own, apart from its definition.
    if (at.term) at.block = null;
    at.term = false;
  };

  for (const line of lines) {
    if (/^\.(?:PP|LP|P|sp|TP)\b/.test(line) || (line.trim() === '' && !at.noFill)) {
      at.block = null;
      at.term = /^\.TP\b/.test(line);
    } else if (/^\.nf\b/.test(line)) {
      at.noFill = true;
      start('pre');
    } else if (/^\.fi\b/.test(line)) {
      at.noFill = false;
      at.block = null;
    } else if (/^\.IP\b/.test(line)) {
      const mark = macroArguments(line).split(/\s+/)[0] ?? '';
      if (/^\\(?:\[bu\]|\(bu)$|^[-*•]$/.test(mark)) start('bullet');
      else at.block = null;
    } else if (/^\.br\b/.test(line)) {
      at.block?.text.push('\n');
    } else if (/^\.(?:B|I|SM|SB|BI|BR|IB|IR|RB|RI)\b/.test(line)) {
      add(inlineText(macroArguments(line), state));
    } else if (/^[.']/.test(line)) {
      continue; // other requests (.RS/.RE, .hy, .UR/.UE, comments) have no text of their own
    } else if (at.noFill) {
      (at.block?.kind === 'pre' ? at.block : start('pre')).text.push(inlineText(line, state));
    } else {
      add(inlineText(line, state));
    }
  }
  if (state.code) blocks[blocks.length - 1]?.text.push(CODE_CLOSE);

  let marked = '';
  let previous: BlockKind | null = null;
  for (const block of blocks) {
    const body =
      block.kind === 'pre'
        ? block.text.join('\n').replace(/^\n+|\n+$/g, '')
        : block.text.join(' ').replace(/ ?\n ?/g, '\n').replace(/[ \t]+/g, ' ').trim();
    if (stripMarks(body).trim() === '') continue;
    if (previous !== null) marked += previous === 'bullet' && block.kind === 'bullet' ? '\n' : '\n\n';
    marked += block.kind === 'bullet' ? `- ${body}` : body;
    previous = block.kind;
  }
  marked = marked.replace(/\u0001\u0002/g, '');
  return { marked, plain: stripMarks(marked) };
}

function stripMarks(text: string): string {
  return text.replace(/[\u0001\u0002]/g, '');
}

/** Arguments of a request line (`.B "a b" c` → `a b c`), quotes removed. */
function macroArguments(line: string): string {
  const rest = line.replace(/^[.'][A-Za-z]+\s*/, '');
  return [...rest.matchAll(/"((?:[^"]|"")*)"|(\S+)/g)]
    .map((m) => (m[1] !== undefined ? m[1].replace(/""/g, '"') : m[2]))
    .join(' ');
}

const NAMED_CHARACTERS: Record<string, string> = {
  aq: "'", dq: '"', lq: '"', rq: '"', oq: "'", cq: "'", bu: '•', em: '—', en: '–', hy: '-',
  rs: '\\', ti: '~', ha: '^', at: '@', sl: '/', lB: '[', rB: ']', lC: '{', rC: '}', ga: '`',
  co: '©', rg: '®', tm: '™', de: '°', mu: '×', di: '÷', '->': '→', '<-': '←', '>=': '≥',
  '<=': '≤', '!=': '≠', pl: '+', mi: '-', eq: '=', nbsp: ' ', Do: '$', sh: '#', ba: '|',
};

const SINGLE_ESCAPES: Record<string, string> = {
  '-': '-', e: '\\', '\\': '\\', ' ': ' ', '~': ' ', '0': ' ', '@': '@', '.': '.', "'": "'", '`': '`',
};

/** Font names that pandoc and man(7) use for inline code. */
const CODE_FONT = /^(?:C|CR|CW|CB|CI|CO)$/;

/**
 * Expand inline escapes on one text line. Font changes open or close a code span (tracked in
 * `state`, since troff fonts carry over to the next line).
 */
function inlineText(line: string, state: { code: boolean }): string {
  const escape =
    /\\(?:f(?:\[([^\]]*)\]|\(([A-Za-z]{2})|([A-Za-z0-9]))|\[([^\]]+)\]|\(([^\s]{2})|\*(?:\[[^\]]*\]|\(..|.)|"(.*)$|(.))/g;
  const text = line.replace(
    escape,
    (
      _m,
      fBracket?: string,
      fParen?: string,
      fChar?: string,
      named?: string,
      short?: string,
      comment?: string,
      single?: string,
    ) => {
      const font = fBracket ?? fParen ?? fChar;
      if (font !== undefined) {
        const code = CODE_FONT.test(font);
        if (code === state.code) return '';
        state.code = code;
        return code ? CODE_OPEN : CODE_CLOSE;
      }
      if (comment !== undefined) return '';
      const name = named ?? short;
      if (name !== undefined) {
        const unicode = /^u([0-9A-Fa-f]{4,6})$/.exec(name);
        if (unicode) return String.fromCodePoint(parseInt(unicode[1] ?? '0', 16));
        return NAMED_CHARACTERS[name] ?? '';
      }
      // \& \| \^ \% \c \: and other escapes with no visible output map to nothing.
      return SINGLE_ESCAPES[single ?? ''] ?? '';
    },
  );
  return text;
}

// ---------------------------------------------------------------------------------------------
// text → metadata

const SCOPE_SENTENCE =
  /(?:^|[.:!?]\s+|\n)\s*(?:Scope:\s*)?((?:global|server|model)(?:\s*\/\s*(?:global|server|model))*)\.(?=\s|$)/gi;

function describeOption(entry: RawEntry, optionNames: ReadonlySet<string>): BarmanOption {
  const { plain, marked } = renderTroff(entry.lines);
  const executes = isExecutableOption(entry.name);
  const defaultValue = readDefault(marked, entry.name, optionNames);
  const stated = readChoices(marked);
  const setTo = readSetToValues(marked);

  // A switch shows as "set to `true` ... set to `false`" or one of them plus the default.
  const switchValues = stated ?? [...setTo, ...(defaultValue !== null ? [defaultValue] : [])];
  const values = stated ?? (setTo.length >= 2 ? setTo : null);
  let type: OptionType;
  let choices: string[] | null = null;
  if (executes && entry.name !== 'path_prefix') {
    type = 'command'; // path_prefix is a list of directories, not a command line
  } else if (isBooleanSet(switchValues)) {
    type = 'boolean';
  } else if (values !== null) {
    type = isListText(plain) ? 'list' : 'enum';
    choices = values;
  } else {
    type = typeFromText(plain);
  }

  return {
    name: entry.name,
    description: plain,
    scopes: readScopes(plain),
    type,
    choices,
    default: type === 'boolean' && defaultValue !== null ? defaultValue.toLowerCase() : defaultValue,
    executes,
  };
}

function readScopes(text: string): OptionScope[] {
  const found = new Set<string>();
  for (const match of text.matchAll(SCOPE_SENTENCE)) {
    for (const word of (match[1] ?? '').split('/')) found.add(word.trim().toLowerCase());
  }
  // primary_ssh_command: a server option that "can also be set globally".
  if (/\bcan (?:also )?be set globally\b/i.test(text)) {
    found.add('global');
    found.add('server');
  }
  return (['global', 'server', 'model'] as const).filter((scope) => found.has(scope));
}

function codeSpans(marked: string): string[] {
  return [...marked.matchAll(/\u0001([^\u0001\u0002]*)\u0002/g)].map((m) => (m[1] ?? '').trim());
}

function sentences(marked: string): string[] {
  return marked.split(/(?<=[.!?:;])\s+(?=[A-Z\u0001"'-])|\n+/).filter((s) => s.trim() !== '');
}

function withoutParentheses(text: string): string {
  let previous: string;
  let current = text;
  do {
    previous = current;
    current = current.replace(/\([^()]*\)/g, '');
  } while (current !== previous);
  return current;
}

function unique(values: string[]): string[] {
  return [...new Set(values.filter((v) => v !== ''))];
}

/** Values the page enumerates explicitly; null when it enumerates none. */
function readChoices(marked: string): string[] | null {
  const bare = withoutParentheses(marked);
  const leadIn = /(?:\bvalues(?:\s+are)?\s*:|\bvalues\s+are\b|\bthe following (?:options|values)\s*:)([^\n]*)/i.exec(bare);
  if (leadIn) {
    const sameSentence = codeSpans((leadIn[1] ?? '').split(/\.(?:\s|$)/)[0] ?? '');
    if (sameSentence.length > 0) return unique(sameSentence);
    const bullets = bulletHeads(bare.slice(leadIn.index));
    if (bullets.length > 0) return unique(bullets);
  }
  for (const sentence of sentences(bare)) {
    // "Can either be unset or `gzip`,`lz4` or `zstd`." / "Can be set to either `plain` or `tar`."
    if (/^Can (?:either )?be\b/.test(sentence) && codeSpans(sentence).length >= 2) {
      return unique(codeSpans(sentence));
    }
  }
  const either = /\beither\s+(\u0001[^\u0002]*\u0002(?:\s*,\s*\u0001[^\u0002]*\u0002)*\s+or\s+\u0001[^\u0002]*\u0002)/.exec(marked);
  if (either) return unique(codeSpans(either[1] ?? ''));
  const only = /\bCurrently only (?:supports )?(?:\u0001([^\u0002]+)\u0002|"([^"]+)")/.exec(marked);
  if (only) return [(only[1] ?? only[2] ?? '').trim()];
  // log_level: "Level of logging (DEBUG, INFO, WARNING, ERROR, CRITICAL)."
  const capitals = /\(([A-Z]+(?:, [A-Z]+){2,})\)/.exec(marked);
  if (capitals) return (capitals[1] ?? '').split(', ');
  return null;
}

/** Leading code span of each bullet in the list that follows a lead-in sentence. */
function bulletHeads(text: string): string[] {
  const heads: string[] = [];
  for (const line of text.split('\n').slice(1)) {
    if (line.trim() === '') continue;
    const head = /^- \u0001([^\u0002]+)\u0002/.exec(line);
    if (!head) {
      if (heads.length > 0) break;
      continue;
    }
    heads.push((head[1] ?? '').trim());
  }
  return heads;
}

/** What the page sets the option to: "If set to `x`", "When set to `x`", "Setting it to `x`", "Set to true". */
function readSetToValues(marked: string): string[] {
  const values: string[] = [];
  const pattern = /(?:^|[.:;]\s+|\n)(?:If|When|Set|Setting it)\s+(?:set\s+)?to\s+(?:\u0001([^\u0002]+)\u0002|(true|false|on|off)\b)/gi;
  for (const match of marked.matchAll(pattern)) values.push((match[1] ?? match[2] ?? '').trim());
  return unique(values);
}


/** Both polarities present and nothing else: the option is a switch. */
function isBooleanSet(values: string[]): boolean {
  const lower = values.map((v) => v.toLowerCase());
  return (
    lower.length >= 2 &&
    lower.every((v) => TRUE_WORDS.has(v) || FALSE_WORDS.has(v)) &&
    lower.some((v) => TRUE_WORDS.has(v)) &&
    lower.some((v) => FALSE_WORDS.has(v)) &&
    lower.some((v) => v !== '0' && v !== '1')
  );
}

function isListText(plain: string): boolean {
  return /\bcomma[- ]separated list\b|\bseparated by (?:a )?(?:comma|colon)s?\b/i.test(plain);
}

function typeFromText(plain: string): OptionType {
  const first = firstSentence(plain);
  if (/\btime frame\b|\(DAYS \| WEEKS \| MONTHS\)/.test(plain)) return 'interval';
  if (/\bSI or IEC suffix\b|\(k\|Ki\|M/.test(plain)) return 'size';
  if (isListText(plain)) return 'list';
  if (
    sentences(plain).some((s) => /^(?:Positive integer|Integer|An integer value)\b/.test(s)) ||
    /^(?:The |Minimum |Maximum )?number of\b/i.test(first) ||
    /\bhow many\b/.test(first) ||
    /\bin kilobytes per second\b/.test(first)
  ) {
    return 'integer';
  }
  if (/^(?:Main data directory|Directory\b|A path\b|Location of\b[^.]*\bfile\b)/i.test(first)) return 'path';
  if (/\bconnection string\b/i.test(first)) return 'string';
  if (/^(?:The (?:ID|name) of\b|Identifier\b|A human readable\b)/.test(first)) return 'string';
  return 'unknown';
}

/** The default the page states, in the first form that matches. */
function readDefault(marked: string, name: string, optionNames: ReadonlySet<string>): string | null {
  const value = (raw: string | undefined): string | null => {
    if (raw === undefined) return null;
    const inCode = /^\u0001([^\u0002]*)\u0002$/.exec(raw);
    const text = (inCode ? inCode[1] ?? '' : raw).trim().replace(/[.,;]+$/, '');
    if (/^(?:none|empty|unset)$/i.test(text)) return '';
    // "By default it is set to `conninfo`" means the value of that option, which barman
    // writes as an interpolation.
    if (inCode && text !== name && optionNames.has(text)) return `%(${text})s`;
    return text;
  };
  const codeOrWord = '(\\u0001[^\\u0002]*\\u0002|[^\\s.,;()]+)';
  const codeOrNumber = '(\\u0001[^\\u0002]*\\u0002|-?\\d+(?:\\.\\d+)?|empty|none)';
  const forms: RegExp[] = [
    new RegExp(`\\bDefault(?:s to|\\s+value\\s+is|\\s*:)\\s+${codeOrWord}`, 'i'),
    new RegExp(`\\bdefault\\s+${codeOrNumber}(?=[\\s.,;)]|$)`, 'i'),
    /(\u0001[^\u0002]*\u0002)\s*\(default\)/,
    /\bBy default it is set to\s+(\u0001[^\u0002]*\u0002)/i,
    /\ba default of\s+(\u0001[^\u0002]*\u0002)/i,
  ];
  for (const form of forms) {
    const found = value(form.exec(marked)?.[1]);
    if (found !== null) return found;
  }
  // A bullet such as "- `off`: disabled (default);" names the default of its list.
  const bullet = /^- \u0001([^\u0002]+)\u0002[^\n]*\(default\)/m.exec(marked);
  if (bullet) return (bullet[1] ?? '').trim();
  if (/\bIf (?:left )?empty \(default\)|\bEmpty by default\b/i.test(marked)) return '';
  return null;
}

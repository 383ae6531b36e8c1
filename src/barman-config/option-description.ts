/**
 * What one option's entry in barman's man page says about it: scopes, type, choices, default,
 * read from the wording and the code spans of its description.
 */
import { FALSE_WORDS, TRUE_WORDS } from '../util/truth.js';
import { firstSentence, isExecutableOption, type BarmanOption, type OptionScope, type OptionType, type RawEntry } from './option-catalogue.js';
import { CODE_CLOSE, CODE_OPEN, renderTroff } from './troff.js';

// ---------------------------------------------------------------------------------------------
const SCOPE_SENTENCE =
  /(?:^|[.:!?]\s+|\n)\s*(?:Scope:\s*)?((?:global|server|model)(?:\s*\/\s*(?:global|server|model))*)\.(?=\s|$)/gi;

export function describeOption(entry: RawEntry, optionNames: ReadonlySet<string>): BarmanOption {
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

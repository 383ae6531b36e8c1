/**
 * Reads barman's own argparse help (`barman --help`, `barman <cmd> --help`, `barman -v`) into a
 * command catalogue, so the API accepts exactly what the installed barman version accepts.
 */
import { requiredOptionStrings, splitChoices, tokenizeUsage, usagePositionals, type UsagePositional } from './help-usage.js';

export interface OptionSpec {
  /** e.g. `--config`; null when the option only has a short form */
  long: string | null;
  /** e.g. `-c`; the first one when help shows several (`--gzip, -z, -x`) */
  short: string | null;
  /** long name without dashes, or short letter when no long */
  name: string;
  takesValue: boolean;
  /** the value placeholder as help shows it: `CONFIG`, `{console,json}`, `[{copy,link,off}]` */
  metavar: string | null;
  choices: string[] | null;
  repeatable: boolean;
  description: string;
  /** `--reuse-backup [{copy,link,off}]`: the value may be left out (argparse nargs='?') */
  valueOptional?: boolean;
  /** shown outside brackets in the usage line */
  required?: boolean;
  /** `--flag, --no-flag` on one help line (argparse BooleanOptionalAction): the negated form */
  negation?: string | null;
}

export interface PositionalSpec {
  name: string;
  /** metavar as help shows it, e.g. SERVER_NAME */
  metavar: string;
  required: boolean;
  repeatable: boolean;
  choices: string[] | null;
  description: string;
}

export interface CommandSpec {
  name: string;
  /** other names barman accepts for this command, as far as the help text shows */
  aliases: string[];
  description: string;
  positionals: PositionalSpec[];
  options: OptionSpec[];
}

export interface MainHelp {
  commands: { name: string; description: string; aliases?: string[] }[];
  globalOptions: OptionSpec[];
  /** whether barman has a global -f/--format option accepting json */
  supportsJson: boolean;
}

/**
 * argparse help never says an option uses action="append". These barman options do (checked in
 * barman's cli.py), so they are repeatable even though their description does not say so.
 */
const KNOWN_APPEND_OPTIONS: ReadonlySet<string> = new Set(['tablespace']);

/** Description phrases that announce an option may be given more than once. */
const REPEATABLE_WORDING =
  /\b(?:multiple times|more than once|several times|(?:can|may) be repeated|repeatable)\b/i;

/** `3.4.0` from `3.4.0 Barman by EnterpriseDB (www.enterprisedb.com)`; `2.19` from `2.19 Barman …`. */
export function parseVersion(text: string): string {
  const match = /(?:^|\s)v?(\d+(?:\.\d+)+(?:(?:a|b|rc|\.dev|\.post)\d+)?)(?=\s|$)/.exec(text.trim());
  if (!match?.[1]) throw new Error(`cannot read a barman version from ${JSON.stringify(text.slice(0, 200))}`);
  return match[1];
}

export function parseMainHelp(text: string): MainHelp {
  const doc = splitHelp(text);
  const usageItems = tokenizeUsage(doc.usage);
  // The subcommand choices are the one top-level `{…}` of the usage; they include aliases.
  const choiceItem = usageItems.find((item) => item.startsWith('{') && item.endsWith('}'));
  const allNames = choiceItem ? splitChoices(choiceItem) : [];

  const listed = new Map<string, { description: string; aliases: string[] }>();
  for (const section of doc.sections) {
    for (const entry of commandEntries(section.lines)) listed.set(entry.name, entry);
  }
  const aliasNames = new Set([...listed.values()].flatMap((entry) => entry.aliases));
  // A command registered without help= is absent from the listing but still among the choices.
  const names = allNames.length > 0 ? allNames.filter((n) => !aliasNames.has(n)) : [...listed.keys()];
  const commands = names.map((name) => ({
    name,
    description: listed.get(name)?.description ?? '',
    aliases: listed.get(name)?.aliases ?? [],
  }));

  const globalOptions = parseOptions(doc, usageItems);
  const format = globalOptions.find((o) => o.long === '--format' || o.short === '-f');
  return { commands, globalOptions, supportsJson: format?.choices?.includes('json') ?? false };
}

export function parseCommandHelp(name: string, text: string): CommandSpec {
  const doc = splitHelp(text);
  const usageItems = tokenizeUsage(doc.usage);
  const target = aliasTarget(name, text);
  const options = parseOptions(doc, usageItems);
  return {
    name,
    aliases: target ? [target] : [],
    description: doc.description,
    positionals: parsePositionals(doc, usageItems, options),
    options,
  };
}

/**
 * The command `barman <name> --help` really documents, when that is not `name` itself: barman
 * resolves aliases to the parser of the real command, whose usage line names the real command
 * (`barman switch-xlog --help` prints `usage: barman switch-wal …`).
 */
export function aliasTarget(name: string, helpText: string): string | null {
  const usage = splitHelp(helpText).usage;
  const words = usage.split(/\s+/).filter((w) => w !== '');
  const sub = words[1];
  if (sub === undefined || sub.startsWith('[') || sub.startsWith('-') || sub.startsWith('{')) return null;
  return sub === name ? null : sub;
}

// ---------------------------------------------------------------------------------------------
// Layout: argparse prints `usage: …` (wrapped), a blank line, the description, then sections
// (`title:` at column 0 followed by indented entries), then an optional epilog.

interface HelpLine {
  indent: number;
  text: string;
}
interface HelpSection {
  title: string;
  lines: HelpLine[];
}
interface HelpDocument {
  usage: string;
  description: string;
  sections: HelpSection[];
}

function splitHelp(text: string): HelpDocument {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  let i = lines.findIndex((l) => /^usage:/i.test(l));
  const usageParts: string[] = [];
  if (i >= 0) {
    usageParts.push(lines[i]!.replace(/^usage:\s*/i, ''));
    for (i += 1; i < lines.length && lines[i]!.trim() !== ''; i += 1) usageParts.push(lines[i]!.trim());
  } else {
    i = 0;
  }
  const usage = usageParts.join(' ').trim();

  const isHeader = (at: number): boolean => {
    const line = lines[at]!;
    const next = lines[at + 1] ?? '';
    return /^\S.*:$/.test(line) && /^ {2}\S/.test(next);
  };

  const descriptionLines: string[] = [];
  for (; i < lines.length && !isHeader(i); i += 1) descriptionLines.push(lines[i]!.trim());

  const sections: HelpSection[] = [];
  while (i < lines.length) {
    if (!isHeader(i)) {
      i += 1; // an epilog or text after a section: not part of any argument list
      continue;
    }
    const section: HelpSection = { title: lines[i]!.slice(0, -1), lines: [] };
    for (i += 1; i < lines.length; i += 1) {
      const line = lines[i]!;
      if (line.trim() === '') continue;
      if (!/^\s/.test(line)) break;
      section.lines.push({ indent: line.length - line.trimStart().length, text: line.trim() });
    }
    sections.push(section);
  }
  return { usage, description: joinParagraphs(descriptionLines), sections };
}

/** Wrapped lines joined with spaces; blank lines kept as paragraph breaks. */
function joinParagraphs(lines: string[]): string {
  const paragraphs: string[] = [];
  let current: string[] = [];
  for (const line of lines) {
    if (line === '') {
      if (current.length > 0) paragraphs.push(current.join(' '));
      current = [];
    } else current.push(line);
  }
  if (current.length > 0) paragraphs.push(current.join(' '));
  return paragraphs.join('\n');
}

interface Entry {
  invocation: string;
  description: string;
}

/** Entries of a section: a line at the section's base indent starts one, deeper lines continue it. */
function sectionEntries(lines: HelpLine[]): Entry[] {
  const base = Math.min(...lines.map((l) => l.indent));
  const entries: { invocation: string; help: string[] }[] = [];
  for (const line of lines) {
    if (line.indent === base) {
      // Invocation and help are separated by at least two spaces; invocations never contain two.
      const split = /^(.*?\S)(?: {2,}(.*))?$/.exec(line.text)!;
      entries.push({ invocation: split[1]!, help: split[2] ? [split[2]] : [] });
    } else entries.at(-1)?.help.push(line.text);
  }
  return entries.map((e) => ({ invocation: e.invocation, description: e.help.join(' ') }));
}

/** Subcommand lines of the main help: `    name (alias1,alias2)   description`. */
function commandEntries(lines: HelpLine[]): { name: string; description: string; aliases: string[] }[] {
  const choiceLine = lines.find((l) => l.text.startsWith('{'));
  if (!choiceLine) return [];
  const entryIndent = lines.find((l) => l.indent > choiceLine.indent)?.indent;
  if (entryIndent === undefined) return [];
  const out: { name: string; description: string; aliases: string[]; help: string[] }[] = [];
  for (const line of lines) {
    if (line.indent === entryIndent) {
      const m = /^(\S+)(?: \(([^)]*)\))?(?: {2,}(.*))?$/.exec(line.text);
      if (!m) continue;
      const aliases = m[2] ? m[2].split(',').map((a) => a.trim()).filter((a) => a !== '') : [];
      out.push({ name: m[1]!, aliases, description: '', help: m[3] ? [m[3]] : [] });
    } else if (line.indent > entryIndent) out.at(-1)?.help.push(line.text);
  }
  return out.map(({ name, aliases, help }) => ({ name, aliases, description: help.join(' ') }));
}

// ---------------------------------------------------------------------------------------------
// Usage line: top-level items are `[…]` (optional), `(…)` (required group), `{…}` (choices) or
// bare words. It is the only place argparse shows which positionals are required or repeated.

function parsePositionals(doc: HelpDocument, usageItems: string[], options: OptionSpec[]): PositionalSpec[] {
  const valueWords = new Map<string, number>();
  for (const o of options) {
    const words = o.metavar === null ? 0 : tokenizeUsage(o.metavar).length;
    for (const flag of [o.long, o.short]) if (flag) valueWords.set(flag, words);
  }
  // usage is `prog subcommand args…`; the first two words are not arguments.
  const fromUsage = usagePositionals(usageItems.slice(2), valueWords);
  const described = new Map<string, string>();
  for (const section of doc.sections) {
    for (const entry of sectionEntries(section.lines)) {
      // Only single-token entries can be positionals; this skips argument-group descriptions.
      if (!entry.invocation.startsWith('-') && !/\s/.test(entry.invocation)) {
        described.set(entry.invocation, entry.description);
      }
    }
  }
  const list: UsagePositional[] = fromUsage.length > 0
    ? fromUsage
    : [...described.keys()].map((display) => ({ display, required: true, repeatable: false }));
  return list.map((p, index) => {
    const choices = p.display.startsWith('{') ? splitChoices(p.display) : null;
    return {
      // A positional with choices and no metavar has no name in the help; number it.
      name: choices ? `arg${index + 1}` : p.display,
      metavar: p.display,
      required: p.required,
      repeatable: p.repeatable,
      choices,
      description: described.get(p.display) ?? '',
    };
  });
}

function parseOptions(doc: HelpDocument, usageItems: string[]): OptionSpec[] {
  const required = requiredOptionStrings(usageItems.slice(1));
  const options: OptionSpec[] = [];
  for (const section of doc.sections) {
    for (const entry of sectionEntries(section.lines)) {
      if (!entry.invocation.startsWith('-')) continue;
      const option = parseInvocation(entry.invocation, entry.description, required);
      if (option) options.push(option);
    }
  }
  return options;
}

/** `-c CONFIG, --config CONFIG`, `--jobs NJOBS, -j NJOBS`, `--gzip, -z, -x`, `--x, --no-x`, … */
function parseInvocation(invocation: string, description: string, requiredFlags: ReadonlySet<string>): OptionSpec | null {
  const parts = invocation.split(/, (?=-)/).map((part) => {
    const space = part.indexOf(' ');
    return space < 0 ? { flag: part, rest: null } : { flag: part.slice(0, space), rest: part.slice(space + 1).trim() };
  });
  if (parts.some((p) => p.flag === '-h' || p.flag === '--help')) return null;

  const longs = parts.filter((p) => p.flag.startsWith('--')).map((p) => p.flag);
  const shorts = parts.filter((p) => !p.flag.startsWith('--')).map((p) => p.flag);
  const metavar = parts.find((p) => p.rest !== null)?.rest ?? null;
  const takesValue = metavar !== null;

  let negation: string | null = null;
  let long = longs[0] ?? null;
  if (!takesValue) {
    const negated = longs.find((l) => l.startsWith('--no-') && longs.includes(`--${l.slice(5)}`));
    if (negated) {
      negation = negated;
      long = `--${negated.slice(5)}`;
    }
  }
  const short = shorts[0] ?? null;
  const name = long ? long.slice(2) : (short ?? '').replace(/^-+/, '');
  if (name === '') return null;

  let valueOptional = false;
  let shown = metavar ?? '';
  const optional = /^\[(.*)\]$/.exec(shown);
  if (optional && !optional[1]!.includes('...')) {
    valueOptional = true;
    shown = optional[1]!;
  }
  const choices = /^\{[^{}]*\}$/.test(shown) ? splitChoices(shown) : null;
  const repeatable = KNOWN_APPEND_OPTIONS.has(name) || REPEATABLE_WORDING.test(description);

  return {
    long,
    short,
    name,
    takesValue,
    metavar,
    choices,
    repeatable: takesValue && repeatable,
    description,
    valueOptional,
    required: parts.some((p) => requiredFlags.has(p.flag)),
    negation,
  };
}

/**
 * HTTP parameters → barman argv, validated against the command's parsed help. Every value ends up
 * as exactly one argv word, and no value can ever be read by barman as an option.
 */
import { badRequest } from '../http/errors.js';
import type { Params } from '../http/params.js';
import { FALSE_WORDS, TRUE_WORDS } from '../util/truth.js';
import { refuseControlCharacters } from '../util/control-chars.js';
import type { CommandSpec, OptionSpec, PositionalSpec } from './help-parser.js';

export interface ArgvRequest {
  spec: CommandSpec;
  params: Params;
  /** names the caller consumes itself (e.g. `format`); never passed to barman */
  reserved?: ReadonlySet<string>;
}

export interface ParamDescription {
  name: string;
  kind: 'positional' | 'option' | 'flag';
  required: boolean;
  repeatable: boolean;
  choices: string[] | null;
  description: string;
}

const FLAG_WORDS = [...TRUE_WORDS, ...[...FALSE_WORDS].filter((w) => w !== '')];

/** `SERVERNAME`, `server_name` and `server-name` all name barman's `server_name`. */
export function normaliseName(s: string): string {
  return s.toLowerCase().replace(/[-_]/g, '');
}

/** What a command accepts, in the names callers use; for help routes and error messages. */
export function describeParams(spec: CommandSpec): ParamDescription[] {
  const out: ParamDescription[] = spec.positionals.map((p) => ({
    name: p.name,
    kind: 'positional' as const,
    required: p.required,
    repeatable: p.repeatable,
    choices: p.choices,
    description: p.description,
  }));
  for (const o of spec.options) {
    out.push({
      name: o.name,
      kind: o.takesValue ? 'option' : 'flag',
      required: o.required ?? false,
      repeatable: o.repeatable,
      choices: o.choices,
      description: o.description,
    });
    if (o.negation) {
      out.push({
        name: o.negation.replace(/^-+/, ''),
        kind: 'flag',
        required: false,
        repeatable: false,
        choices: null,
        description: `turns ${o.long ?? o.name} off`,
      });
    }
  }
  return out;
}

type Target =
  | { kind: 'positional'; spec: PositionalSpec }
  | { kind: 'option'; spec: OptionSpec }
  | { kind: 'negation'; spec: OptionSpec };

interface Given {
  /** the parameter name as the caller spelled it (first spelling seen), for messages */
  param: string;
  values: string[];
}

/**
 * `['backup', '--wait', '--name=x', 'pg']`: the command and its arguments; the caller prepends
 * `barman`, `-c <conf>` and `-f json`. Options come first, each value glued to its option as
 * `--long=value` so a value starting with `-` stays a value. Positionals come last, after a `--`
 * separator when one of them starts with `-`: barman's argparse takes everything after `--` as
 * positional (checked with barman 3.4 / Python 3.11: `barman show-server -- -x` looks up a server
 * named `-x`), and a subparser receives the `--` intact from the main parser.
 */
export function commandArgs(req: ArgvRequest): string[] {
  const { spec } = req;
  const accepted = describeParams(spec).map((d) => d.name);
  const targets = targetIndex(spec);
  const reserved = new Set([...(req.reserved ?? [])].map(normaliseName));

  const given = new Map<Target, Given>();
  for (const [key, raw] of Object.entries(req.params)) {
    const norm = normaliseName(key);
    if (reserved.has(norm)) continue;
    const target = targets.byName.get(norm);
    if (!target) {
      throw badRequest(
        `unknown parameter "${key}" for barman ${spec.name}; accepted: ${accepted.join(', ') || '(none)'}`,
        { parameter: key, allowed: accepted },
      );
    }
    const values = (Array.isArray(raw) ? raw : [raw]).map((v) => asWord(key, v));
    const seen = given.get(target);
    if (seen) seen.values.push(...values);
    else given.set(target, { param: key, values });
  }

  const optionWords: string[] = [];
  // A bare `--reuse-backup` would swallow the next positional as its value.
  let bareOptionalValue = false;
  for (const option of spec.options) {
    const on = given.get(targets.option.get(option)!);
    const off = option.negation ? given.get(targets.negation.get(option)!) : undefined;
    if (!option.takesValue) {
      if (on && flagIsOn(on)) optionWords.push(option.long ?? option.short!);
      if (off && flagIsOn(off)) optionWords.push(option.negation!);
      continue;
    }
    const words = optionValueWords(spec, option, on);
    if (words.bare) bareOptionalValue = true;
    if (words.words.length === 0 && option.required) {
      throw badRequest(`missing required parameter "${option.name}" for barman ${spec.name}`, {
        parameter: option.name,
        allowed: accepted,
      });
    }
    optionWords.push(...words.words);
  }

  const positionalWords = positionalValues(spec, given, targets, accepted);
  const needsSeparator = bareOptionalValue || positionalWords.some((w) => w.startsWith('-'));
  return [
    spec.name,
    ...optionWords,
    ...(needsSeparator && positionalWords.length > 0 ? ['--'] : []),
    ...positionalWords,
  ];
}

interface TargetIndex {
  byName: Map<string, Target>;
  positional: Map<PositionalSpec, Target>;
  option: Map<OptionSpec, Target>;
  negation: Map<OptionSpec, Target>;
}

/** One target per argument; every accepted spelling of its name leads to that same target. */
function targetIndex(spec: CommandSpec): TargetIndex {
  const index: TargetIndex = { byName: new Map(), positional: new Map(), option: new Map(), negation: new Map() };
  const add = (names: string[], target: Target) => {
    for (const name of names) {
      const key = normaliseName(name);
      if (!index.byName.has(key)) index.byName.set(key, target);
    }
  };
  for (const p of spec.positionals) {
    const target: Target = { kind: 'positional', spec: p };
    index.positional.set(p, target);
    add([p.name, p.metavar], target);
  }
  for (const o of spec.options) {
    const target: Target = { kind: 'option', spec: o };
    index.option.set(o, target);
    add([o.name], target);
    if (o.negation) {
      const negation: Target = { kind: 'negation', spec: o };
      index.negation.set(o, negation);
      add([o.negation.replace(/^-+/, '')], negation);
    }
  }
  return index;
}

/** One argv word from one parameter value; only what no argv word can hold is refused. */
function asWord(param: string, value: string | number | boolean): string {
  if (typeof value === 'number' && !Number.isFinite(value)) {
    throw badRequest(`parameter "${param}": ${value} is not a usable number`, { parameter: param, allowed: ['finite numbers'] });
  }
  const word = String(value);
  // A NUL cannot be in an argv word; a line break would reach files barman writes from the value
  // (recover's target_name lands in postgresql.auto.conf).
  refuseControlCharacters(param, word);
  // argparse deletes a bare `--` from the values it collects (`--name=--` yields no name), so
  // it cannot reach barman intact in any position.
  if (word === '--') {
    throw badRequest(`parameter "${param}": the value "--" cannot be passed to barman (its argument parser drops it)`, {
      parameter: param,
      allowed: ['any value other than "--"'],
    });
  }
  return word;
}

function flagIsOn(given: Given): boolean {
  if (given.values.length > 1) {
    throw badRequest(`parameter "${given.param}" is a flag and was given ${given.values.length} times; give it once`, {
      parameter: given.param,
      allowed: FLAG_WORDS,
    });
  }
  const word = (given.values[0] ?? '').toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  throw badRequest(
    `parameter "${given.param}" is a flag: "${given.values[0]}" is not one of ${FLAG_WORDS.join(', ')} (or empty for off)`,
    { parameter: given.param, allowed: FLAG_WORDS },
  );
}

function optionValueWords(
  spec: CommandSpec,
  option: OptionSpec,
  given: Given | undefined,
): { words: string[]; bare: boolean } {
  // An empty value means "not given", as with an empty HTML form field.
  const values = (given?.values ?? []).filter((v) => v !== '');
  if (!given || values.length === 0) return { words: [], bare: false };
  if (values.length > 1 && !option.repeatable) {
    throw badRequest(
      `parameter "${given.param}" of barman ${spec.name} takes one value but was given ${values.length}`,
      { parameter: given.param, allowed: option.choices ?? ['one value'] },
    );
  }
  const words: string[] = [];
  let bare = false;
  for (const value of values) {
    if (option.choices?.includes(value)) {
      words.push(glue(option, value, given.param));
      continue;
    }
    if (option.valueOptional) {
      // `--reuse-backup` alone means barman's default value; `reuse_backup=true` asks for that.
      const word = value.toLowerCase();
      if (TRUE_WORDS.has(word)) {
        words.push(option.long ?? option.short!);
        bare = true;
        continue;
      }
      if (FALSE_WORDS.has(word)) continue;
    }
    if (option.choices) {
      const allowed = option.valueOptional ? [...new Set([...option.choices, ...FLAG_WORDS])] : option.choices;
      throw badRequest(
        `parameter "${given.param}" of barman ${spec.name}: "${value}" is not allowed; allowed: ${allowed.join(', ')}`,
        { parameter: given.param, allowed },
      );
    }
    words.push(glue(option, value, given.param));
  }
  return { words, bare };
}

/** `--long=value` is one word argparse always reads as option plus value, whatever the value. */
function glue(option: OptionSpec, value: string, param: string): string {
  if (option.long) return `${option.long}=${value}`;
  // Short-only options are not used by barman today; keep them unambiguous all the same.
  if (value.startsWith('-')) {
    throw badRequest(`parameter "${param}": a value starting with "-" cannot be passed to ${option.short}`, {
      parameter: param,
      allowed: ['values not starting with "-"'],
    });
  }
  return `${option.short!}${value}`;
}

function positionalValues(
  spec: CommandSpec,
  given: Map<Target, Given>,
  targets: TargetIndex,
  accepted: string[],
): string[] {
  const words: string[] = [];
  let missingOptional: PositionalSpec | null = null;
  for (const p of spec.positionals) {
    const entry = given.get(targets.positional.get(p)!);
    const values = (entry?.values ?? []).filter((v) => v !== '');
    const param = entry?.param ?? p.name;
    if (values.length === 0) {
      if (p.required) {
        throw badRequest(
          `missing required parameter "${p.name}" for barman ${spec.name}; accepted: ${accepted.join(', ')}`,
          { parameter: p.name, allowed: accepted },
        );
      }
      missingOptional ??= p;
      continue;
    }
    // argparse fills positionals left to right: a later one cannot be given without the earlier.
    if (missingOptional) {
      throw badRequest(
        `parameter "${param}" of barman ${spec.name} needs "${missingOptional.name}" too: positional arguments are given in order`,
        { parameter: param, allowed: accepted },
      );
    }
    if (values.length > 1 && !p.repeatable) {
      throw badRequest(`parameter "${param}" of barman ${spec.name} takes one value but was given ${values.length}`, {
        parameter: param,
        allowed: p.choices ?? ['one value'],
      });
    }
    for (const value of values) {
      if (p.choices && !p.choices.includes(value)) {
        throw badRequest(
          `parameter "${param}" of barman ${spec.name}: "${value}" is not allowed; allowed: ${p.choices.join(', ')}`,
          { parameter: param, allowed: p.choices },
        );
      }
      words.push(value);
    }
  }
  return words;
}

/**
 * The troff of barman's man page as text: paragraphs, bullets and preformatted blocks, with code
 * spans (the fonts man pages use for literals) kept between CODE_OPEN and CODE_CLOSE, since the
 * values an option takes are written there.
 */

/** Code spans are kept in the marked text between these two characters; values live there. */
export const CODE_OPEN = '\u0001';
export const CODE_CLOSE = '\u0002';

export interface Rendered {
  /** Plain text, paragraphs separated by a blank line, bullets one per line. */
  plain: string;
  /** The same text with code spans wrapped in CODE_OPEN/CODE_CLOSE. */
  marked: string;
}

type BlockKind = 'para' | 'bullet' | 'pre';

export function renderTroff(lines: string[]): Rendered {
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

export function stripMarks(text: string): string {
  return text.replace(/[\u0001\u0002]/g, '');
}

/** Arguments of a request line (`.B "a b" c` → `a b c`), quotes removed. */
export function macroArguments(line: string): string {
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
export function inlineText(line: string, state: { code: boolean }): string {
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


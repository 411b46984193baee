/**
 * The paper's answer extraction: the final answer is the text after the LAST "The answer is" in a
 * completion. When a completion has no such phrase, only explicit final-answer markers are read
 * (`\boxed{..}`, a GSM8K-style `#### ..` line, an `Answer: ..` line); nothing else is guessed, so a
 * completion without a stated answer is an abstention (null).
 */

/** "The answer is", also "the final answer is", "The correct answer is:", "the answer would be". */
const ANSWER_IS = /\bthe\s+(?:final\s+|correct\s+|right\s+)?answer\s+(?:is|would\s+be|will\s+be)\b\s*:?/gi;
const NEXT_QUESTION = /\n[ \t]*(?:Q|Question)[ \t]*:/;
const HASHES = /^[ \t]*####[ \t]*(.*)$/gm;
const ANSWER_LINE = /^[ \t>*_#-]*(?:final\s+)?answer\s*[*_]*\s*:[ \t]*(.*)$/gim;

/** Abbreviations whose period does not end a sentence ("St. Louis", "Maj. Gen. Grow", "Dec. 21"). */
const ABBREVIATIONS = new Set(
  (
    'mr mrs ms dr st jr sr vs mt ft gen maj brig col lt sgt capt cpt adm gov sen rep pres prof rev fr hon ' +
    'inc co corp ltd etc approx jan feb mar apr jun jul aug sep sept oct nov dec'
  ).split(' '),
);

export interface SpanOptions {
  /**
   * Read "X. " as an initial when a capital follows ("George W. Bush", "T. J. Houshmandzadeh"): right
   * for span answers (DROP), wrong where a one-letter answer is followed by a sentence ("B. Because").
   */
  initials?: boolean;
}

function lastMatchEnd(re: RegExp, text: string): number | null {
  let end: number | null = null;
  for (const m of text.matchAll(re)) end = (m.index ?? 0) + m[0].length;
  return end;
}

function lastGroup(re: RegExp, text: string): string | null {
  let found: string | null = null;
  for (const m of text.matchAll(re)) found = m[1];
  return found;
}

/** The content of the last balanced `\cmd{...}` for cmd in `commands`, or null. */
function lastBraced(
  text: string,
  commands: readonly string[],
): { start: number; end: number; inner: string } | null {
  const re = new RegExp(`\\\\(?:${commands.join('|')})\\s*\\{`, 'g');
  let found: { start: number; end: number; inner: string } | null = null;
  for (const m of text.matchAll(re)) {
    const open = (m.index ?? 0) + m[0].length;
    let depth = 1;
    let i = open;
    for (; i < text.length && depth > 0; i++) {
      if (text[i] === '{') depth++;
      else if (text[i] === '}') depth--;
    }
    if (depth === 0) found = { start: m.index ?? 0, end: i, inner: text.slice(open, i - 1) };
  }
  return found;
}

/** Replaces every `\boxed{x}`, `\text{x}`, ... by x (innermost first, so nesting unwraps fully). */
function unwrapLatex(s: string): string {
  const commands = ['boxed', 'fbox', 'text', 'textbf', 'textit', 'mathrm', 'mathbf', 'emph', 'underline'];
  for (let guard = 0; guard < 20; guard++) {
    const b = lastBraced(s, commands);
    if (!b) break;
    s = s.slice(0, b.start) + b.inner + s.slice(b.end);
  }
  return s
    .replace(/\\[()[\]]/g, ' ')
    .replace(/\\[,;!: ]/g, ' ')
    .replace(/\\%/g, '%')
    .replace(/\\\$/g, '$')
    .replace(/\\(?:dfrac|tfrac|frac)\s*\{([^{}]*)\}\s*\{([^{}]*)\}/g, '$1/$2');
}

/** Where the first sentence of `s` ends: a . ! or ? followed by whitespace or the end. */
function sentenceEnd(s: string, options: SpanOptions): number {
  for (const m of s.matchAll(/[.!?](?=\s|$)/g)) {
    const at = m.index ?? 0;
    if (m[0] === '.') {
      const word = /([A-Za-z.]+)$/.exec(s.slice(0, at))?.[1] ?? '';
      if (ABBREVIATIONS.has(word.toLowerCase())) continue;
      // Dotted letters are one abbreviation: U.S.A., D.J.
      if (/^(?:[A-Za-z]\.)+[A-Za-z]$/.test(word)) continue;
      if (options.initials && /^[A-Z]$/.test(word) && /^\s+[A-Z]/.test(s.slice(at + 1))) continue;
    }
    return at;
  }
  return s.length;
}

/**
 * Cleans the text that follows an answer marker down to the answer: first line, LaTeX and markdown
 * unwrapped, cut at the end of the first sentence, trailing punctuation and enclosing quotes removed.
 * Empty → null. (Reasons given after the answer, "… because …", are left to each task's normalizer:
 * option texts and DROP spans may contain "because" themselves.)
 */
export function cleanAnswerSpan(raw: string, options: SpanOptions = {}): string | null {
  let s = unwrapLatex(raw.replace(/^[\s:*_]+/, ''));
  if (NEXT_QUESTION.test(`\n${s}`)) return null;
  // A whole-span `$...$` is math mode; a lone `$` stays (it is a currency sign).
  s = s.replace(/^\$([^$\n]+)\$/, '$1');
  s = s.split(/\r?\n/)[0];
  s = s.replace(/\*\*|__|`/g, '');
  s = s.slice(0, sentenceEnd(s, options));
  s = s
    .replace(/^[\s*_"'“”‘’]+/, '')
    .replace(/[\s*_"'“”‘’.,;:!?]+$/, '')
    .replace(/\s+/g, ' ')
    .trim();
  return s === '' ? null : s;
}

/**
 * What follows the final-answer marker of a completion, uncleaned, looking only at the completion up to
 * any next question it goes on to write: the text after the last "The answer is", else the content of the last \boxed{..}, the last "#### .." line, the last "Answer: .." line.
 */
export function finalAnswerTail(completion: string): string | null {
  // A model that runs on past its answer starts the next exemplar ("\n\nQ: …"): that is not its answer.
  const text = completion.split(NEXT_QUESTION, 1)[0];
  const end = lastMatchEnd(ANSWER_IS, text);
  if (end !== null) return text.slice(end);
  const boxed = lastBraced(text, ['boxed', 'fbox']);
  if (boxed) return boxed.inner;
  return lastGroup(HASHES, text) ?? lastGroup(ANSWER_LINE, text);
}

/**
 * The raw final-answer text of a completion (paper rule, then explicit markers), or null.
 * A completion whose last "The answer is" is followed by nothing (cut off) is an abstention too.
 */
export function extractFinalAnswer(text: string, options: SpanOptions = {}): string | null {
  const tail = finalAnswerTail(text);
  return tail === null ? null : cleanAnswerSpan(tail, options);
}

/**
 * Numeric answers (GSM8K, arith, custom numeric tasks). `1,234`, `1234`, `$1234.00` and
 * `1234 dollars` all normalise to `'1234'`: a number is canonicalised from its digits as a string
 * (no floating point), so large values and decimals compare exactly.
 */

/**
 * One written number: a sign (only where it cannot be a minus between two operands, as in 5-3),
 * `$`, thousands commas, decimals.
 */
const NUMBER = /(?:(?<![\w.])[-+])?\$?(?:\d{1,3}(?:,\d{3})+(?![\d,])(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)/g;
const HAS_NUMBER = new RegExp(NUMBER.source);
const FRACTION = /(?<![\w.])-?\d+\s*\/\s*\d+(?![\d.])/;

const UNITS = [
  'zero',
  'one',
  'two',
  'three',
  'four',
  'five',
  'six',
  'seven',
  'eight',
  'nine',
  'ten',
  'eleven',
  'twelve',
  'thirteen',
  'fourteen',
  'fifteen',
  'sixteen',
  'seventeen',
  'eighteen',
  'nineteen',
];
const TENS = ['', '', 'twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety'];

/** A number written in words, 0 to 99 ("five", "twenty-one"), at the start of `s`. */
function leadingNumberWord(s: string): number | null {
  const m = /^([a-z]+)(?:[\s-]+([a-z]+))?\b/.exec(s.toLowerCase());
  if (!m) return null;
  // "one hundred" is not 1: larger numbers in words are not read rather than misread.
  if (m[2] !== undefined && /^(?:hundred|thousand|million|billion)$/.test(m[2])) return null;
  const unit = UNITS.indexOf(m[1]);
  if (unit >= 0) return unit;
  const tens = TENS.indexOf(m[1]);
  if (tens < 2) return null;
  const next = m[2] === undefined ? -1 : UNITS.indexOf(m[2]);
  return next >= 1 && next <= 9 ? tens * 10 + next : tens * 10;
}

function unicodeMinus(s: string): string {
  return s.replace(/[\u2212\u2013\u2012]/g, '-');
}

/** The canonical decimal string of one written number token: no `$`, commas, `+`, or extra zeros. */
export function canonicalNumber(token: string): string {
  let t = unicodeMinus(token).replace(/[$,\s]/g, '');
  let sign = '';
  if (t.startsWith('-') || t.startsWith('+')) {
    sign = t[0] === '-' ? '-' : '';
    t = t.slice(1);
  }
  const [intPart, fracPart = ''] = t.split('.');
  const int = intPart.replace(/^0+/, '') || '0';
  const frac = fracPart.replace(/0+$/, '');
  const body = frac ? `${int}.${frac}` : int;
  return body === '0' ? '0' : sign + body;
}

/**
 * The canonical form of a numeric answer: when the text holds exactly one number, that number
 * canonicalised (units, `$`, `%` and words around it dropped); otherwise the text lower-cased with
 * whitespace collapsed, which compares equal only to the same text. Idempotent.
 */
export function normalizeNumber(answer: string): string {
  const s = unicodeMinus(answer).toLowerCase().replace(/\s+/g, ' ').trim();
  const tokens = s.match(NUMBER) ?? [];
  return tokens.length === 1 ? canonicalNumber(tokens[0]) : s;
}

/**
 * The number an answer span states: a reason after "because"/"since" dropped, after the last "="
 * when the span is a calculation, a simple
 * fraction as written, else the first written number, else a number word ("five"). No number → null.
 */
export function extractNumber(span: string | null): string | null {
  if (span === null) return null;
  // A reason after the answer ("8 because 5 + 3 = 8") is not the calculation that gives it.
  let s = unicodeMinus(span).replace(/\s*,?\s+\b(?:because|since)\b.*$/is, '');
  const eq = s.lastIndexOf('=');
  if (eq >= 0 && HAS_NUMBER.test(s.slice(eq + 1))) s = s.slice(eq + 1);
  const first = s.match(NUMBER)?.[0];
  const fraction = FRACTION.exec(s);
  if (fraction && first !== undefined && s.indexOf(first) >= fraction.index)
    return fraction[0].replace(/\s+/g, '');
  if (first !== undefined) return first;
  const negative = /^\s*(?:negative|minus)\s+/i.exec(s);
  const word = leadingNumberWord(s.slice(negative ? negative[0].length : 0).trim());
  if (word === null) return null;
  return `${negative && word !== 0 ? '-' : ''}${word}`;
}

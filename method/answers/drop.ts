/**
 * DROP's official answer normalisation and token F1 (allenai drop_eval.py, as used by simple-evals):
 * split on whitespace and hyphens; per token lower-case, drop punctuation unless the token is a
 * number, write numbers as Python's str(float(x)) ("10" → "10.0"), drop articles.
 */

const PUNCTUATION = new Set('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~');
/** Python's \b is Unicode-aware; JavaScript's is not, so word boundaries are spelt out. */
const ARTICLES = /(?<![\p{L}\p{N}_])(?:a|an|the)(?![\p{L}\p{N}_])/gu;
const FLOAT = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?$/i;
const SPECIAL_FLOAT = /^[-+]?(?:nan|inf|infinity)$/i;

function isNumber(token: string): boolean {
  return FLOAT.test(token) || SPECIAL_FLOAT.test(token);
}

/** Python's repr of a float: shortest round-trip digits, ".0" on integers, exponent outside [1e-4, 1e16). */
function pythonFloatString(token: string): string {
  const x = Number(
    token
      .replace(/^\+/, '')
      .replace(/infinity$|inf$/i, 'Infinity')
      .replace(/^(-?)nan$/i, 'NaN'),
  );
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const abs = Math.abs(x);
  if (abs >= 1e16 || abs < 1e-4) {
    const [mantissa, exp] = x.toExponential().split('e');
    const e = Number(exp);
    return `${mantissa}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  }
  const s = String(x);
  return Number.isInteger(x) ? `${s}.0` : s;
}

function normalizeToken(token: string): string {
  let t = token.toLowerCase();
  if (!isNumber(t)) t = [...t].filter((ch) => !PUNCTUATION.has(ch)).join('');
  if (isNumber(t)) t = pythonFloatString(t);
  return t.replace(ARTICLES, ' ').split(/\s+/).filter(Boolean).join(' ');
}

/** DROP's normalised answer string (exact match compares these). Idempotent. */
export function normalizeDropAnswer(text: string): string {
  // The official tokenizer splits on " " and "-" only; splitting on every whitespace character too
  // changes nothing it would keep, and keeps a number after a newline a number (idempotence).
  return text
    .split(/[\s-]+/)
    .map(normalizeToken)
    .filter((part) => part.trim() !== '')
    .join(' ')
    .trim();
}

function bag(text: string): Set<string> {
  return new Set(normalizeDropAnswer(text).split(' ').filter(Boolean));
}

function bagF1(predicted: Set<string>, gold: Set<string>): number {
  const goldNumbers = [...gold].filter(isNumber);
  // The official rule: when the gold has numbers, the prediction must share one of them or score 0.
  if (goldNumbers.length > 0 && !goldNumbers.some((n) => predicted.has(n))) return 0;
  let intersection = 0;
  for (const t of gold) if (predicted.has(t)) intersection++;
  const precision = predicted.size === 0 ? 1 : intersection / predicted.size;
  const recall = gold.size === 0 ? 1 : intersection / gold.size;
  return precision === 0 && recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
}

/**
 * Python's round(x, 2): the exact binary value decides, and exact ties (only k/8 values reach one)
 * go to the even neighbour; toFixed rounds exact ties up, so those are handled first.
 */
function pythonRound2(x: number): number {
  const y = x * 100;
  const floor = Math.floor(y);
  if (y - floor === 0.5 && Number.isInteger(x * 8)) return (floor % 2 === 0 ? floor : floor + 1) / 100;
  return Number(x.toFixed(2));
}

/**
 * DROP token F1 of one predicted span against the gold alternatives: the best over alternatives
 * (blank ones ignored), rounded to 2 decimals as the official script does. A null prediction scores 0.
 */
export function dropF1(prediction: string | null, golds: readonly string[]): number {
  if (prediction === null) return 0;
  const predicted = bag(prediction);
  let best = 0;
  for (const gold of golds) {
    if (gold.trim() === '') continue;
    best = Math.max(best, pythonRound2(bagF1(predicted, bag(gold))));
  }
  return best;
}

/** DROP exact match: the normalised prediction equals some normalised gold alternative. */
export function dropExactMatch(prediction: string | null, golds: readonly string[]): boolean {
  if (prediction === null) return false;
  const p = normalizeDropAnswer(prediction);
  return golds.some((g) => g.trim() !== '' && normalizeDropAnswer(g) === p);
}

/** The `|`-separated alternatives of a DROP `ref_text`, trimmed, blanks dropped. */
export function dropGoldAlternatives(refText: string): string[] {
  return refText
    .split('|')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

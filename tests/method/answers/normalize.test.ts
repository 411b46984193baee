import fc from 'fast-check';
import { normalizeChoice } from '../../../method/answers/choice';
import { dropExactMatch, dropF1, normalizeDropAnswer } from '../../../method/answers/drop';
import { extractFinalAnswer } from '../../../method/answers/extract';
import { NLI_NEUTRAL, nliAnswerToLabel, normalizeNli } from '../../../method/answers/nli';
import { canonicalNumber, extractNumber, normalizeNumber } from '../../../method/answers/number';
import { normalizeText } from '../../../method/answers/text';
import { getTask, TASK_NAMES } from '../../../method/tasks';
import type { Choice, Question } from '../../../method/types';

const CHOICES: Choice[] = [
  { label: 'A', text: 'WW or Ww' },
  { label: 'B', text: 'Ww or ww' },
  { label: 'C', text: 'e' },
  { label: 'D', text: 'quit eating lunch out because it saves money' },
];
const NUMERIC_LABELS: Choice[] = [
  { label: '1', text: '4' },
  { label: '2', text: 'b' },
  { label: '3', text: 'drought' },
];

/** Pieces that make answers interesting: numbers, units, labels, NLI words, markup, articles. */
const PIECES = [
  '1',
  '0',
  '9',
  '12',
  ',',
  '.',
  '$',
  '-',
  '+',
  '−',
  '%',
  ' ',
  '  ',
  '\n',
  '/',
  '=',
  'dollars',
  'a',
  'an',
  'the',
  '(',
  ')',
  '[',
  ']',
  'A',
  'B',
  'b',
  'E',
  '1,234',
  '.5',
  'e5',
  '1e3',
  'yes',
  'no',
  'It is not possible to tell',
  'option',
  'because',
  'quit eating lunch out',
  'WW or Ww',
  'drought',
  '"',
  "'",
  '**',
  '\\boxed{',
  '}',
  'five',
  'nan',
  'inf',
  'pre-war',
  'U.S.',
  'St.',
  'é',
  'İ',
  '\u00a0',
  'The answer is',
];
const answerish = fc.array(fc.constantFrom(...PIECES), { maxLength: 10 }).map((parts) => parts.join(''));
const anyAnswer = fc.oneof(
  answerish,
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.string({ unit: 'binary' }),
);
const choiceSets = fc.constantFrom<Choice[] | undefined>(undefined, CHOICES, NUMERIC_LABELS);

const idempotent = (f: (s: string) => string) =>
  fc.assert(
    fc.property(anyAnswer, (s) => {
      const once = f(s);
      expect(f(once)).toBe(once);
    }),
    { numRuns: 2000 },
  );

describe('normalisation is idempotent (fast-check)', () => {
  it('numbers', () => idempotent(normalizeNumber));
  it('DROP', () => idempotent(normalizeDropAnswer));
  it('NLI', () => idempotent(normalizeNli));
  it('free text', () => idempotent(normalizeText));
  it('multiple choice, with and without the question’s options', () =>
    fc.assert(
      fc.property(anyAnswer, choiceSets, (s, choices) => {
        const once = normalizeChoice(s, choices);
        expect(normalizeChoice(once, choices)).toBe(once);
      }),
      { numRuns: 3000 },
    ));
  it('every task’s normalize, on what its extractAnswer returns', () => {
    const custom = getTask('custom', { questionField: 'q', answerType: 'number' });
    const tasks = [...TASK_NAMES.filter((n) => n !== 'custom').map((n) => getTask(n)), custom];
    const question: Question = {
      id: 'q',
      text: 'q',
      gold: ['A'],
      choices: CHOICES,
      source: { file: 'f', line: 1 },
    };
    fc.assert(
      fc.property(anyAnswer, fc.constantFrom(...tasks), (s, task) => {
        for (const answer of [s, task.extractAnswer(`Reasoning. The answer is ${s}`, question)]) {
          if (answer === null) continue;
          const once = task.normalize(answer, question);
          expect(task.normalize(once, question)).toBe(once);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('extraction never guesses and never throws', () => {
  it('returns null or a non-empty trimmed string, for any text', () =>
    fc.assert(
      fc.property(anyAnswer, anyAnswer, (before, after) => {
        for (const text of [before, `${before} The answer is ${after}`, `${before}\n#### ${after}`]) {
          const span = extractFinalAnswer(text);
          if (span !== null) expect(span).toBe(span.trim());
          if (span !== null) expect(span.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 2000 },
    ));
  it('a text without any answer marker is an abstention', () =>
    fc.assert(
      fc.property(answerish, (s) => {
        fc.pre(!/answer|####|\\boxed|\\fbox/i.test(s));
        expect(extractFinalAnswer(s)).toBeNull();
      }),
    ));
});

describe('numbers', () => {
  it('1,234 = 1234 = $1234.00 = 1234 dollars = +1234', () => {
    for (const s of [
      '1,234',
      '1234',
      '$1234.00',
      '$1,234',
      '1234 dollars',
      '+1234',
      '1234.0',
      ' 1234 ',
      '01234',
    ])
      expect(normalizeNumber(s)).toBe('1234');
  });
  it('any integer written with commas, $, .00, + or a unit normalises to its digits', () =>
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(10n ** 15n), max: 10n ** 15n }),
        fc.constantFrom('commas', 'dollar', 'cents', 'plus', 'unit', 'percent'),
        (n, style) => {
          const digits = (n < 0n ? -n : n).toString();
          const sign = n < 0n ? '-' : '';
          const commas = digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
          const written = {
            commas: `${sign}${commas}`,
            dollar: `${sign}$${commas}`,
            cents: `${sign}${digits}.00`,
            plus: n < 0n ? `-${digits}` : `+${digits}`,
            unit: `${sign}${commas} dollars`,
            percent: `${sign}${digits}%`,
          }[style];
          expect(normalizeNumber(written)).toBe(n.toString());
        },
      ),
    ));
  it('decimals keep their digits exactly; negatives and zero are canonical', () => {
    expect(normalizeNumber('2.50')).toBe('2.5');
    expect(normalizeNumber('-0.0')).toBe('0');
    expect(normalizeNumber('−7')).toBe('-7');
    expect(normalizeNumber('12345678901234567890.10')).toBe('12345678901234567890.1');
    expect(canonicalNumber('$-0,001')).toBe('-1');
  });
  it('text with no number, or with several, is kept (lower-cased) and matches only itself', () => {
    expect(normalizeNumber('Unknown')).toBe('unknown');
    expect(normalizeNumber('3 and 4')).toBe('3 and 4');
    expect(normalizeNumber('3/4')).toBe('3/4');
  });
  it('extractNumber: first number, after "=", before "because", fractions, number words', () => {
    expect(extractNumber('18 dollars per day')).toBe('18');
    expect(extractNumber('5 + 3 = 8')).toBe('8');
    expect(extractNumber('8, because 2 + 3 = 5')).toBe('8');
    expect(extractNumber('3/4 of a cup')).toBe('3/4');
    expect(extractNumber('negative five')).toBe('-5');
    expect(extractNumber('one hundred')).toBeNull();
    expect(extractNumber('none')).toBeNull();
    expect(extractNumber(null)).toBeNull();
  });
});

describe('DROP (official normalisation and F1)', () => {
  it('normalises as drop_eval.py: lower-case, no articles or punctuation, numbers as Python floats', () => {
    expect(normalizeDropAnswer('The Chicago Bears.')).toBe('chicago bears');
    expect(normalizeDropAnswer('1,000')).toBe('1000.0');
    expect(normalizeDropAnswer('3.50')).toBe('3.5');
    expect(normalizeDropAnswer('pre-war')).toBe('pre war');
    expect(normalizeDropAnswer('  The  U.S.  ')).toBe('us');
    expect(normalizeDropAnswer('a an the')).toBe('');
    expect(normalizeDropAnswer('10000000000000000')).toBe('1e+16');
    expect(normalizeDropAnswer('0.00001')).toBe('1e-05');
    expect(normalizeDropAnswer('théa')).toBe('théa');
  });
  it('F1 is the best over gold alternatives, 0 unless gold numbers are matched, rounded to 2 decimals', () => {
    expect(dropF1('Bears', ['Chicago Bears'])).toBe(0.67);
    expect(dropF1('10 yards', ['10'])).toBe(0.67);
    expect(dropF1('11', ['10'])).toBe(0);
    expect(dropF1('the Bears', ['Bears'])).toBe(1);
    expect(dropF1('Pakistani and Filipino', ['Pakistanis and Filipinos', 'Pakistani and Filipino'])).toBe(1);
    expect(dropF1('Josh', ['Josh Lambo', '', 'Lambo'])).toBe(0.67);
    expect(dropF1(null, ['x'])).toBe(0);
    expect(dropF1('a', ['the'])).toBe(1);
  });
  it('exact match compares normalised strings', () => {
    expect(dropExactMatch('The Chicago Bears.', ['Chicago Bears'])).toBe(true);
    expect(dropExactMatch('1000', ['1,000'])).toBe(true);
    expect(dropExactMatch('Bears', ['Chicago Bears'])).toBe(false);
    expect(dropExactMatch(null, ['Bears'])).toBe(false);
  });
});

describe('multiple choice and NLI', () => {
  it('letters, (B), option text and label + text all reach the label', () => {
    for (const a of ['b', '(b)', 'B)', '[B]', 'option B', 'Ww or ww', '(B) Ww or ww', 'b Ww or ww'])
      expect(normalizeChoice(a, CHOICES)).toBe('B');
    // Options differing only in case are told apart exactly; a loose match would be ambiguous.
    expect(normalizeChoice('WW or Ww', CHOICES)).toBe('A');
    expect(normalizeChoice('ww or WW', CHOICES)).toBe('ww or WW');
    // A bare label beats an option's text, except where the labels are digits and the text a letter.
    expect(normalizeChoice('e', CHOICES)).toBe('C');
    expect(normalizeChoice('4', NUMERIC_LABELS)).toBe('1');
    expect(normalizeChoice('b', NUMERIC_LABELS)).toBe('2');
    expect(normalizeChoice('B', undefined)).toBe('B');
  });
  it('NLI words and labels map to the paper’s words and back to e / n / c', () => {
    expect(normalizeNli('Yes')).toBe('yes');
    expect(normalizeNli('e')).toBe('yes');
    expect(normalizeNli('c')).toBe('no');
    expect(normalizeNli('n')).toBe(NLI_NEUTRAL);
    expect(normalizeNli("it's not possible to tell")).toBe(NLI_NEUTRAL);
    expect(normalizeNli('Contradiction')).toBe('no');
    expect(normalizeNli('perhaps')).toBe('perhaps');
    expect(nliAnswerToLabel('yes')).toBe('e');
    expect(nliAnswerToLabel('It is not possible to tell.')).toBe('n');
    expect(nliAnswerToLabel('no')).toBe('c');
    expect(nliAnswerToLabel('perhaps')).toBeNull();
    const anli = getTask('anli');
    expect(anli.isCorrect('yes', ['e'])).toBe(true);
    expect(anli.isCorrect('no', ['yes'])).toBe(false);
    expect(anli.isCorrect(null, ['yes'])).toBe(false);
  });
});

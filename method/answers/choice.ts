import type { Choice } from '../types';
import { cleanAnswerSpan, finalAnswerTail } from './extract';
import { textKey } from './text';

/**
 * Multiple-choice answers (OpenBookQA, ARC). A model may answer with the label ("B", "(B)",
 * "option b"), with the option's text, or with both ("(B) quit eating lunch out"); all of these
 * normalise to the label as written in the file. Anything else normalises to itself (tidied), which
 * matches no label, so it counts as wrong rather than being guessed into an option.
 */

/** Labels assumed when the question is not at hand: A–E and 1–5, as in the data sets. */
const DEFAULT_LETTERS = /^[a-e]$/;
const DEFAULT_DIGITS = /^[1-5]$/;

function findLabel(key: string, choices: readonly Choice[] | undefined): string | null {
  if (choices) return choices.find((c) => c.label.toLowerCase() === key)?.label ?? null;
  if (DEFAULT_LETTERS.test(key)) return key.toUpperCase();
  return DEFAULT_DIGITS.test(key) ? key : null;
}

/** The answer as written, tidied but case kept: two options may differ only in case ("WW or Ww"). */
function tidy(s: string): string {
  return s
    .replace(/\s+/g, ' ')
    .replace(/^[\s"'“”‘’]+|[\s"'“”‘’.,;:!?]+$/g, '')
    .trim();
}

/** The one option whose text the answer is: loosely (case, punctuation) if unique, else exactly. */
function optionByText(answer: string, choices: readonly Choice[]): string | null {
  const loose = choices.filter((c) => textKey(c.text) === textKey(answer));
  if (loose.length === 1) return loose[0].label;
  const exact = loose.filter((c) => tidy(c.text) === answer);
  return exact.length === 1 ? exact[0].label : null;
}

/**
 * The label of a multiple-choice answer, or the tidied answer when it names no option. Everything
 * is decided from the tidied answer, so the fallback normalises to itself (idempotent).
 */
export function normalizeChoice(answer: string, choices?: readonly Choice[]): string {
  const s = tidy(answer);
  // A bracketed label leads: "(B) ..." or "B) ..." names option B whatever text follows it.
  const bracketed = /^(?:[([]\s*([A-Za-z]|\d+)\s*[)\]]|([A-Za-z]|\d+)\))/.exec(s);
  // A label that names no option ("(E)" of four) normalises to "(E)": wrong, one vote however it was
  // written, and (bracketed) it normalises to itself whatever the options say.
  if (bracketed) {
    const named = (bracketed[1] ?? bracketed[2]).toLowerCase();
    return findLabel(named, choices) ?? `(${named.toUpperCase()})`;
  }
  const key = textKey(s);
  const bare = /^(?:(?:option|choice|answer|letter)\s+)?([a-z]|\d+)$/.exec(key);
  if (bare) {
    const label = findLabel(bare[1], choices);
    if (label !== null) return label;
  }
  const fallback = bare ? `(${bare[1].toUpperCase()})` : s;
  if (!choices) return fallback;
  const byText = optionByText(s, choices);
  if (byText !== null) return byText;
  const labelled = /^(?:(?:option|choice)\s+)?([a-z]|\d+) (.+)$/.exec(key);
  if (labelled) {
    const c = choices.find((x) => x.label.toLowerCase() === labelled[1]);
    if (c && textKey(c.text) === labelled[2]) return c.label;
  }
  // A reason after the option's text: "quit eating lunch out, because it saves money".
  // The option's own text may say "because" too, so every "because" is tried as the cut.
  for (const reason of s.matchAll(/\s*,?\s+(?:because|since)\b/gi)) {
    const label = optionByText(tidy(s.slice(0, reason.index)), choices);
    if (label !== null) return label;
  }
  return fallback;
}

/**
 * The final answer of a multiple-choice completion. An option's text may hold several sentences
 * ("Oxygen is provided. Carbon dioxide is removed."), which the one-sentence cut would truncate: when
 * the text after the marker starts with a whole option whose text the cut span begins, that option's
 * text is the answer. Only this completion and the question's own options are read.
 */
export function extractChoiceAnswer(text: string, choices?: readonly Choice[]): string | null {
  const tail = finalAnswerTail(text);
  if (tail === null) return null;
  const span = cleanAnswerSpan(tail);
  if (span === null || !choices) return span;
  const spanKey = textKey(span);
  const tailKey = textKey(tail.replace(/^[\s:*_]+/, '').split(/\r?\n/, 1)[0]);
  let best: Choice | null = null;
  for (const c of choices) {
    const k = textKey(c.text);
    const continues = (long: string) => long === k || long.startsWith(`${k} `);
    if (k.length > spanKey.length && continues(tailKey) && k.startsWith(`${spanKey} `))
      if (!best || k.length > textKey(best.text).length) best = c;
  }
  return best ? best.text : span;
}

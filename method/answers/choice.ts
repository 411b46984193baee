import type { Choice } from '../types';
import { textKey } from './text';

/**
 * Multiple-choice answers (OpenBookQA, ARC). A model may answer with the label ("B", "(B)",
 * "option b"), with the option's text, or with both ("(B) quit eating lunch out"); all of these
 * normalise to the label as written in the file. Anything else normalises to its text key, which
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

/** The label of a multiple-choice answer, or the answer's text key when it names no option. Idempotent. */
export function normalizeChoice(answer: string, choices?: readonly Choice[]): string {
  // A bracketed label leads: "(B) ..." or "B) ..." names option B whatever text follows it.
  const bracketed = /^\s*(?:[([]\s*([A-Za-z]|\d+)\s*[)\]]|([A-Za-z]|\d+)\))/.exec(answer);
  if (bracketed) {
    const label = findLabel((bracketed[1] ?? bracketed[2]).toLowerCase(), choices);
    if (label !== null) return label;
  }
  const key = textKey(answer);
  const bare = /^(?:(?:option|choice|answer|letter)\s+)?([a-z]|\d+)$/.exec(key);
  if (bare) {
    const label = findLabel(bare[1], choices);
    if (label !== null) return label;
  }
  if (choices) {
    const byText = choices.find((c) => textKey(c.text) === key);
    if (byText) return byText.label;
    const labelled = /^(?:(?:option|choice)\s+)?([a-z]|\d+) (.+)$/.exec(key);
    if (labelled) {
      const c = choices.find((x) => x.label.toLowerCase() === labelled[1]);
      if (c && textKey(c.text) === labelled[2]) return c.label;
    }
  }
  return key;
}

import { z } from 'zod';
import { textKey } from '../answers/text';
import type { Choice } from '../types';

/**
 * The multiple-choice half of the custom task: a line's options, and which of them its gold names.
 * Options come as a list of strings (labelled A, B, C, ... in order) or of `{label, text}` objects
 * (labels as given). The gold is stored as the option's label, as the built-in multiple-choice tasks
 * store ARC's answerKey, so answers are extracted and normalised to labels the same way.
 */

/** How the gold field names the correct option. */
export const GOLD_TYPES = ['auto', 'letter', 'label', 'text', 'index0', 'index1'] as const;
export type GoldType = (typeof GOLD_TYPES)[number];

const MAX_CHOICES = 26;
const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

const Text = z.string().trim().min(1);
const Label = z.union([Text, z.number().transform(String)]);
const ChoiceObject = z.object({ label: Label, text: Text });

/** The choices field of one line: 2 to 26 options, all strings or all {label, text} objects. */
export const Choices = z
  .array(z.union([Text, ChoiceObject]))
  .min(2)
  .max(MAX_CHOICES);

/** The line's options as Choices, or a problem with them (mixed kinds, a repeated label). */
export function toChoices(raw: z.output<typeof Choices>): Choice[] | string {
  const strings = raw.filter((c) => typeof c === 'string').length;
  if (strings !== 0 && strings !== raw.length)
    return 'mixes strings and {label, text} objects: use one kind for every option';
  const choices = raw.map((c, i) =>
    typeof c === 'string' ? { label: LETTERS[i], text: c } : { label: c.label, text: c.text },
  );
  const seen = new Set<string>();
  for (const c of choices) {
    const key = c.label.toLowerCase();
    if (seen.has(key)) return `label "${c.label}" is used twice`;
    seen.add(key);
  }
  return choices;
}

const labelList = (choices: readonly Choice[]) => choices.map((c) => c.label).join(', ');
const shown = (v: string | number) => (typeof v === 'number' ? String(v) : JSON.stringify(v));

function byIndex(value: string | number, base: 0 | 1, choices: readonly Choice[]): Choice | string {
  const n = typeof value === 'number' ? value : /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  const last = choices.length - 1 + base;
  if (!Number.isInteger(n))
    return `${shown(value)} is not a ${base}-based index (an integer ${base}-${last})`;
  if (n < base || n > last)
    return `index ${n} is out of range for ${choices.length} choices (${base}-based: ${base}-${last})`;
  return choices[n - base];
}

function byLetter(value: string | number, choices: readonly Choice[]): Choice | string {
  const m = typeof value === 'string' ? /^\s*\(?\s*([A-Za-z])\s*\)?\s*$/.exec(value) : null;
  const last = LETTERS[choices.length - 1];
  if (!m) return `${shown(value)} is not a letter A-${last}`;
  const i = LETTERS.indexOf(m[1].toUpperCase());
  if (i >= choices.length)
    return `letter ${m[1].toUpperCase()} is out of range for ${choices.length} choices (A-${last})`;
  return choices[i];
}

function byLabel(value: string | number, choices: readonly Choice[]): Choice | null {
  const key = String(value).trim().toLowerCase();
  return choices.find((c) => c.label.toLowerCase() === key) ?? null;
}

/** The one option with this text: exactly, else loosely (case, punctuation) when only one matches. */
function byText(value: string | number, choices: readonly Choice[]): Choice | null {
  const text = String(value).trim();
  const exact = choices.filter((c) => c.text === text);
  if (exact.length === 1) return exact[0];
  const loose = choices.filter((c) => textKey(c.text) === textKey(text));
  return loose.length === 1 ? loose[0] : null;
}

/**
 * The option a gold value names, or the problem (a string) saying why it names none. `auto` reads a
 * string as a label, else as an option's text; a number could be a 0- or a 1-based index, so `auto`
 * refuses it and asks for `index0` or `index1` rather than guess.
 */
export function goldChoice(
  value: string | number,
  goldType: GoldType,
  choices: readonly Choice[],
): Choice | string {
  switch (goldType) {
    case 'index0':
      return byIndex(value, 0, choices);
    case 'index1':
      return byIndex(value, 1, choices);
    case 'letter':
      return byLetter(value, choices);
    case 'label':
      return byLabel(value, choices) ?? `${shown(value)} is not one of the labels ${labelList(choices)}`;
    case 'text':
      return byText(value, choices) ?? `${shown(value)} is not the text of exactly one option`;
    case 'auto':
      if (typeof value === 'number')
        return (
          `${value} is a number: set goldType to "index0" (0 = the first option) or "index1" ` +
          `(1 = the first option)`
        );
      return (
        byLabel(value, choices) ??
        byText(value, choices) ??
        `${shown(value)} names no option: not one of the labels ${labelList(choices)} nor an option's text`
      );
  }
}

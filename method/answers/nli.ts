import { textKey } from './text';

/**
 * ANLI answers in the paper's wording ("yes" / "it is not possible to tell" / "no"), which the data
 * set's labels e / n / c map to. Canonical form is the paper's word.
 */
export const NLI_YES = 'yes';
export const NLI_NEUTRAL = 'it is not possible to tell';
export const NLI_NO = 'no';
export type NliAnswer = typeof NLI_YES | typeof NLI_NEUTRAL | typeof NLI_NO;
export type NliLabel = 'e' | 'n' | 'c';

export const NLI_LABEL_TO_ANSWER: Record<NliLabel, NliAnswer> = { e: NLI_YES, n: NLI_NEUTRAL, c: NLI_NO };

const SYNONYMS = new Map<string, NliAnswer>([
  ...['yes', 'y', 'true', 'e', 'entailment', 'entailed', 'entails', 'it is true', 'yes it is true'].map(
    (k) => [k, NLI_YES] as const,
  ),
  ...[
    'no',
    'false',
    'c',
    'contradiction',
    'contradicted',
    'contradicts',
    'it is false',
    'no it is false',
  ].map((k) => [k, NLI_NO] as const),
  ...[
    'it is not possible to tell',
    'not possible to tell',
    'it s not possible to tell',
    'impossible to tell',
    'it is impossible to tell',
    'cannot tell',
    'can t tell',
    'we cannot tell',
    'it cannot be determined',
    'cannot be determined',
    'n',
    'neutral',
    'unknown',
    'undetermined',
    'maybe',
  ].map((k) => [k, NLI_NEUTRAL] as const),
]);

/** The paper's answer word for an NLI answer or label; unrecognised text → its text key. Idempotent. */
export function normalizeNli(answer: string): string {
  const key = textKey(answer);
  const exact = SYNONYMS.get(key);
  if (exact) return exact;
  if (/^(?:it is |it s )?(?:not possible|impossible) to tell\b/.test(key)) return NLI_NEUTRAL;
  const first = key.split(' ')[0];
  if (first === 'yes') return NLI_YES;
  if (first === 'no') return NLI_NO;
  return key;
}

export function nliAnswerToLabel(answer: string): NliLabel | null {
  const word = normalizeNli(answer);
  const found = (Object.keys(NLI_LABEL_TO_ANSWER) as NliLabel[]).find((l) => NLI_LABEL_TO_ANSWER[l] === word);
  return found ?? null;
}

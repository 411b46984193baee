import type { LogitsProcessor } from './types';

// Globals read once: inside a vm context (jest) every global lookup in a hot loop is slow.
const NEG_INF = -Infinity;

/**
 * Removes ids the tokenizer cannot decode: models often pad their vocabulary (our char models to a
 * round size, many exports to a multiple of 64) and those rows of the LM head are untrained noise.
 */
export function untokenizable(tokenizerVocabSize: number): LogitsProcessor {
  if (!(Number.isInteger(tokenizerVocabSize) && tokenizerVocabSize >= 1))
    throw new RangeError(`untokenizable: vocabulary size must be an integer >= 1, got ${tokenizerVocabSize}`);
  return {
    name: 'untokenizable',
    apply(logits) {
      for (let i = tokenizerVocabSize; i < logits.length; i++) logits[i] = NEG_INF;
    },
  };
}

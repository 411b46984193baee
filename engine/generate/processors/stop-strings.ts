import type { LoadedTokenizer } from '../../tokenizer/load';
import { IncrementalDetokenizer } from '../detokenize';
import { type StoppingCriterion, requireParam } from './types';

/**
 * Ends a row as soon as its text contains one of the stop strings. Only the newly decoded text and
 * the last (longest stop - 1) characters before it are searched, so the check is O(1) per token
 * however long the completion grows. The completion's text is cut where the first stop string
 * begins (`cutAtStop`); its tokens run up to the one that completed the stop string.
 * A stop string that is one special token (a chat template's end of turn: `<|im_end|>`,
 * `<|eot_id|>`) is matched by its id instead: decoded text leaves special tokens out, so it would
 * never appear there, nor in the completion.
 */
export function stopStrings(stops: readonly string[], tokenizer: LoadedTokenizer): StoppingCriterion {
  for (const s of stops)
    requireParam(typeof s === 'string' && s.length > 0, 'stop strings', 'a stop string must not be empty');
  const stopIds = new Set<number>();
  const texts: string[] = [];
  for (const s of stops) {
    const id = tokenizer.tokenizer.token_to_id(s);
    if (id !== undefined && tokenizer.specialIds.has(id)) stopIds.add(id);
    else texts.push(s);
  }
  const longest = Math.max(0, ...texts.map((s) => s.length));
  return {
    name: 'stop strings',
    start(promptIds) {
      if (stops.length === 0) return { push: () => null };
      const detok = texts.length === 0 ? null : new IncrementalDetokenizer(tokenizer, promptIds);
      return {
        push(tokenId) {
          if (stopIds.has(tokenId)) return 'stop';
          if (detok === null) return null;
          const before = detok.text.length;
          if (detok.push(tokenId) === '') return null;
          const tail = detok.text.slice(Math.max(0, before - (longest - 1)));
          return texts.some((s) => tail.includes(s)) ? 'stop' : null;
        },
      };
    },
  };
}

/** `text` up to where its earliest stop string begins (all of it when none occurs). */
export function cutAtStop(text: string, stops: readonly string[]): string {
  let cut = text.length;
  for (const s of stops) {
    const at = text.indexOf(s);
    if (at >= 0 && at < cut) cut = at;
  }
  return text.slice(0, cut);
}

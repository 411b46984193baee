import type { LoadedTokenizer } from '../../tokenizer/load';
import { eos } from './eos';
import { maxLength } from './max-length';
import { minP } from './min-p';
import { repetitionPenalty } from './repetition-penalty';
import { stopStrings } from './stop-strings';
import { temperature } from './temperature';
import { topK } from './top-k';
import { topP } from './top-p';
import type { LogitsProcessor, StoppingCriterion } from './types';
import { untokenizable } from './untokenizable';

export * from './types';
export { eos, maxLength, minP, repetitionPenalty, stopStrings, temperature, topK, topP, untokenizable };
export { cutAtStop } from './stop-strings';

export interface ProcessorOptions {
  /** 0 = greedy (no temperature processor; the sampler takes the argmax). */
  temperature: number;
  /** 0 or undefined = off. */
  topK?: number;
  /** 1 or undefined = off. */
  topP?: number;
  /** 0 or undefined = off. */
  minP?: number;
  /** 1 or undefined = off. */
  repetitionPenalty?: number;
  /** Ids at or above it (a padded model vocabulary) are never chosen; undefined = no limit. */
  tokenizerVocabSize?: number;
  logitsSize?: number;
}

/**
 * The processors in Hugging Face's order: the penalty acts on raw logits, then temperature, then the
 * truncations, each of which therefore sees the tempered distribution.
 */
export function buildLogitsProcessors(o: ProcessorOptions): LogitsProcessor[] {
  if (!(Number.isFinite(o.temperature) && o.temperature >= 0))
    throw new RangeError(`temperature: must be a finite number >= 0, got ${o.temperature}`);
  const list: LogitsProcessor[] = [];
  if (o.tokenizerVocabSize !== undefined && o.tokenizerVocabSize < (o.logitsSize ?? Infinity))
    list.push(untokenizable(o.tokenizerVocabSize));
  if (o.repetitionPenalty !== undefined && o.repetitionPenalty !== 1)
    list.push(repetitionPenalty(o.repetitionPenalty));
  if (o.temperature > 0 && o.temperature !== 1) list.push(temperature(o.temperature));
  if (o.topK !== undefined && o.topK !== 0) list.push(topK(o.topK));
  if (o.topP !== undefined && o.topP !== 1) list.push(topP(o.topP));
  if (o.minP !== undefined && o.minP !== 0) list.push(minP(o.minP));
  return list;
}

export interface StoppingOptions {
  maxNewTokens: number;
  maxPositions: number | null;
  eosIds: readonly number[];
  stop: readonly string[];
  tokenizer: LoadedTokenizer;
}

export function buildStoppingCriteria(o: StoppingOptions): StoppingCriterion[] {
  return [eos(o.eosIds), stopStrings(o.stop, o.tokenizer), maxLength(o.maxNewTokens, o.maxPositions)];
}

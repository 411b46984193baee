import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';

/**
 * The Hugging Face parity fixtures (tests/fixtures/hf-models/README.md): tiny random checkpoints of
 * each family written by transformers, and what transformers computed from them.
 */
export const HF_MODELS = path.resolve(__dirname, '../../fixtures/hf-models');

export interface HfCase {
  prompt: string;
  input_ids: number[];
  /** [T][V]: the full forward over input_ids, every position. */
  logits: number[][];
  /** 8 greedy tokens through transformers' KV cache, no EOS stop. */
  greedy: number[];
  /** [8][V]: the last-position logits at each of those steps (step 0: the prompt's last position). */
  decode_logits: number[][];
}

export interface HfExpected {
  name: string;
  model_type: string;
  dtype: string;
  cases: HfCase[];
  chat?: {
    messages: { role: string; content: string }[];
    add_generation_prompt: boolean;
    text: string;
    input_ids: number[];
  }[];
}

export const hfFixtureNames = (): string[] =>
  readdirSync(path.join(HF_MODELS, 'expected'))
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.replace(/\.json$/, ''))
    .sort();

export const hfExpected = (name: string): HfExpected =>
  JSON.parse(readFileSync(path.join(HF_MODELS, 'expected', `${name}.json`), 'utf8')) as HfExpected;

export const hfModelDir = (name: string): string => path.join(HF_MODELS, name);

/** Largest |a - b| over two equally long sequences of numbers. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

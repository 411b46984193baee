import { createHash } from 'node:crypto';
import { Rng, deriveSeed } from '../../base/rng';
import type { LoadedTokenizer } from '../tokenizer/load';
import type { FineTuneExample } from './examples';

/** An example as tokens: BOS + prompt + completion + EOS; the loss covers tokens from promptLen on. */
export interface Sequence {
  ids: number[];
  promptLen: number;
  /** Policy-gradient training: the path's advantage, on every one of its completion tokens. */
  advantage?: number;
  /**
   * Policy-gradient training: log π_old of each completion token (EOS included), in order; the
   * completion is never cut, so these stay aligned when the prompt is.
   */
  oldLogProbs?: Float32Array;
  /** log π_ref of each completion token, when the KL reference is not the starting model. */
  refLogProbs?: Float32Array;
}

export interface Tokenized {
  sequences: Sequence[];
  /** Examples longer than a row (seqLen + 1 tokens) whose prompt was cut from the left to fit. */
  truncated: number;
  /** Examples whose completion (with EOS) does not fit a row after one prompt token: dropped. */
  skipped: number;
}

/** Default cap of the packing length, whatever the model's context. */
export const MAX_AUTO_SEQ_LEN = 1024;

/**
 * The packing length when the config gives none: the longest example's positions rounded up to a
 * multiple of 64, at most MAX_AUTO_SEQ_LEN and the model's context. Never the context itself: the
 * training graph's memory grows with it (attention with its square), and a real model's context
 * (8 192, 32 768 positions) is far longer than its training examples.
 */
export function autoSeqLen(sequences: readonly Sequence[], context: number): number {
  const longest = sequences.reduce((a, s) => Math.max(a, s.ids.length - 1), 1);
  return Math.min(Math.ceil(longest / 64) * 64, MAX_AUTO_SEQ_LEN, context);
}

/**
 * The prompt is tokenised as the sampler tokenises it (with BOS where the model uses one); the
 * completion is the rest of the tokens of prompt + completion, so its first token is the one a
 * model writes after those prompt tokens (a SentencePiece tokenizer would give a completion
 * tokenised alone an extra leading "▁"). Where a token straddles the boundary the completion is
 * tokenised alone. EOS is appended so the model learns to stop, unless the completion already ends
 * in a special token: a chat turn's end-of-turn token (`<|im_end|>`, `<|eot_id|>`, `</s>`) is then
 * the token it learns to stop with.
 */
export function tokenizeExamples(
  examples: readonly FineTuneExample[],
  tok: LoadedTokenizer,
  seqLen = Infinity,
): Tokenized {
  const sequences: Sequence[] = [];
  for (const e of examples) {
    const prompt = tok.encode(e.prompt, { bos: true });
    const completion = completionIds(tok, prompt, e);
    const last = completion[completion.length - 1];
    const eos = tok.eosId === null || (last !== undefined && tok.specialIds.has(last)) ? [] : [tok.eosId];
    sequences.push({
      ids: [...prompt, ...completion, ...eos],
      promptLen: prompt.length,
      ...(e.advantage === undefined ? {} : { advantage: e.advantage }),
    });
  }
  return fitToLength(sequences, seqLen);
}

/**
 * The rule for examples longer than a row (seqLen + 1 tokens: every token but the last is an input):
 * the prompt is cut from the left (the completion and the context nearest to it are what the
 * loss needs), keeping at least one prompt token; an example whose completion alone does not fit
 * is dropped. Both are counted.
 */
export function fitToLength(sequences: readonly Sequence[], seqLen: number): Tokenized {
  const out: Tokenized = { sequences: [], truncated: 0, skipped: 0 };
  for (const s of sequences) {
    const excess = s.ids.length - (seqLen + 1);
    if (s.promptLen >= s.ids.length) {
      out.skipped++;
      continue;
    }
    if (excess <= 0) {
      out.sequences.push(s);
      continue;
    }
    if (s.promptLen - excess < 1) {
      out.skipped++;
      continue;
    }
    out.truncated++;
    out.sequences.push({ ...s, ids: s.ids.slice(excess), promptLen: s.promptLen - excess });
  }
  return out;
}

function completionIds(tok: LoadedTokenizer, prompt: readonly number[], e: FineTuneExample): number[] {
  const joint = tok.encode(e.prompt + e.completion, { bos: true });
  const continues = joint.length > prompt.length && prompt.every((id, i) => joint[i] === id);
  return continues ? joint.slice(prompt.length) : tok.encode(e.completion);
}

/**
 * sha256 of tokenised data: a resumed run must see exactly the data it started with. An advantage
 * is part of the data; sequences without one hash as they always did.
 */
export function fingerprint(...sets: readonly (readonly Sequence[])[]): string {
  const h = createHash('sha256');
  for (const set of sets) {
    h.update(`set ${set.length}\n`);
    for (const s of set)
      h.update(`${s.promptLen}:${s.ids.join(',')}${s.advantage === undefined ? '' : `|${s.advantage}`}\n`);
  }
  return h.digest('hex');
}

/** Positions an example occupies in a row: every token but the last is an input. */
const width = (s: Sequence) => s.ids.length - 1;

/**
 * How examples share rows. 'next-fit' (`true`, the engine's default, kept so checkpoints saved by
 * earlier runs resume unchanged) fills a row in data order and starts a new one when the next
 * example does not fit. 'best-fit' takes the data order in windows of BEST_FIT_WINDOW examples,
 * places each window's examples longest first into the fullest row they fit (best-fit decreasing),
 * then shuffles the window's rows: rows come out fuller (fewer steps per epoch for mixed lengths)
 * while examples still travel only within a window of the epoch's shuffled order.
 */
export type Packing = boolean | 'next-fit' | 'best-fit';

/** Examples per best-fit window: large enough that long and short examples meet, small enough to
 *  keep an epoch's order local (a few optimiser steps' worth at batch 16). */
export const BEST_FIT_WINDOW = 1024;

/** Rows of example indices, in order (an example never straddles rows). */
export function packRows(
  order: readonly number[],
  seqs: readonly Sequence[],
  seqLen: number,
  packing: Packing,
  rng?: Rng,
): number[][] {
  if (packing === 'best-fit') {
    if (!rng) throw new Error("packRows: 'best-fit' needs an Rng to order each window's rows");
    const rows: number[][] = [];
    for (let at = 0; at < order.length; at += BEST_FIT_WINDOW)
      rows.push(...rng.shuffle(bestFitDecreasing(order.slice(at, at + BEST_FIT_WINDOW), seqs, seqLen)));
    return rows;
  }
  const rows: number[][] = [];
  let row: number[] = [];
  let used = 0;
  for (const i of order) {
    const w = width(seqs[i]);
    if (row.length > 0 && (packing === false || used + w > seqLen)) {
      rows.push(row);
      row = [];
      used = 0;
    }
    row.push(i);
    used += w;
  }
  if (row.length > 0) rows.push(row);
  return rows;
}

/** Longest first, each into the row with the least room that still holds it (a new row if none). */
function bestFitDecreasing(window: readonly number[], seqs: readonly Sequence[], seqLen: number): number[][] {
  // Stable: equal widths keep their shuffled order, so the result is a pure function of the order.
  const byWidth = window.slice().sort((a, b) => width(seqs[b]) - width(seqs[a]));
  const rows: number[][] = [];
  const room: number[] = [];
  for (const i of byWidth) {
    const w = width(seqs[i]);
    let best = -1;
    for (let r = 0; r < rows.length; r++) if (room[r] >= w && (best < 0 || room[r] < room[best])) best = r;
    if (best < 0) {
      rows.push([i]);
      room.push(seqLen - w);
    } else {
      rows[best].push(i);
      room[best] -= w;
    }
  }
  return rows;
}

/** One session.run's worth of data, laid out [B, T] row-major. */
export interface MicroBatch {
  inputIds: BigInt64Array;
  targets: BigInt64Array;
  lossMask: Float32Array;
  positionIds: BigInt64Array;
  /** Example number within its row, from 1; 0 on padding. */
  segmentIds: BigInt64Array;
  /** Positions with a loss (completion tokens). */
  lossTokens: number;
  /** Positions holding real tokens. */
  tokens: number;
  /** Policy-gradient training (sequences with advantages): A and log π_old per position, 0 off the completions. */
  advantages?: Float32Array;
  oldLogProbs?: Float32Array;
  /** Present when the sequences carry reference log-probs (else π_ref is π_old). */
  refLogProbs?: Float32Array;
}

export function buildMicroBatch(
  rows: readonly (readonly number[])[],
  seqs: readonly Sequence[],
  B: number,
  T: number,
  padId: number,
): MicroBatch {
  const n = B * T;
  const mb: MicroBatch = {
    inputIds: new BigInt64Array(n).fill(BigInt(padId)),
    targets: new BigInt64Array(n).fill(BigInt(padId)),
    lossMask: new Float32Array(n),
    positionIds: new BigInt64Array(n),
    segmentIds: new BigInt64Array(n),
    lossTokens: 0,
    tokens: 0,
  };
  const policy = rows.some((row) => row.some((ex) => seqs[ex].advantage !== undefined));
  if (policy) {
    mb.advantages = new Float32Array(n);
    mb.oldLogProbs = new Float32Array(n);
    if (rows.some((row) => row.some((ex) => seqs[ex].refLogProbs !== undefined)))
      mb.refLogProbs = new Float32Array(n);
  }
  rows.forEach((row, r) => {
    let at = r * T;
    row.forEach((ex, k) => {
      const { ids, promptLen, advantage, oldLogProbs, refLogProbs } = seqs[ex];
      for (let j = 0; j < ids.length - 1; j++, at++) {
        mb.inputIds[at] = BigInt(ids[j]);
        mb.targets[at] = BigInt(ids[j + 1]);
        mb.positionIds[at] = BigInt(j);
        mb.segmentIds[at] = BigInt(k + 1);
        // Position j predicts token j + 1: a completion token when j + 1 >= promptLen.
        if (j + 1 >= promptLen) {
          mb.lossMask[at] = 1;
          mb.lossTokens++;
          if (policy) {
            mb.advantages![at] = advantage ?? 0;
            mb.oldLogProbs![at] = oldLogProbs?.[j + 1 - promptLen] ?? 0;
            if (mb.refLogProbs) mb.refLogProbs[at] = refLogProbs?.[j + 1 - promptLen] ?? 0;
          }
        }
        mb.tokens++;
      }
    });
  });
  return mb;
}

export interface PlanOptions {
  seed: number | string;
  batchSize: number;
  gradientAccumulation: number;
  seqLen: number;
  packing: Packing;
}

/**
 * The data order: epoch e shuffles the examples with Rng(deriveSeed(seed, 'epoch', e)), packs them
 * into rows and takes batchSize × gradientAccumulation rows per optimiser step (the last step of an
 * epoch may have fewer). A pure function of (seed, epoch), so a resumed run continues exactly where
 * the interrupted one stopped.
 */
export class DataPlan {
  private cached: { epoch: number; rows: number[][] } | null = null;
  constructor(
    readonly seqs: readonly Sequence[],
    readonly opts: PlanOptions,
  ) {}

  private rowsPerStep(): number {
    return this.opts.batchSize * this.opts.gradientAccumulation;
  }

  rows(epoch: number): number[][] {
    if (this.cached?.epoch !== epoch) {
      const rng = new Rng(deriveSeed(this.opts.seed, 'epoch', epoch));
      const order = rng.shuffle(this.seqs.map((_, i) => i));
      // Best-fit orders each window's rows with the same generator, after the shuffle: next-fit
      // runs draw exactly the numbers they drew before best-fit existed.
      this.cached = { epoch, rows: packRows(order, this.seqs, this.opts.seqLen, this.opts.packing, rng) };
    }
    return this.cached.rows;
  }

  stepsInEpoch(epoch: number): number {
    return Math.ceil(this.rows(epoch).length / this.rowsPerStep());
  }

  /** The micro-batches of step k (0-based) of an epoch: at most gradientAccumulation, none empty. */
  microBatches(epoch: number, k: number, padId: number): MicroBatch[] {
    const { batchSize: B, seqLen: T } = this.opts;
    const rows = this.rows(epoch).slice(k * this.rowsPerStep(), (k + 1) * this.rowsPerStep());
    const out: MicroBatch[] = [];
    for (let i = 0; i < rows.length; i += B)
      out.push(buildMicroBatch(rows.slice(i, i + B), this.seqs, B, T, padId));
    return out;
  }
}

/** Held-out data in its own order, batchSize rows per run. */
export function evalBatches(
  seqs: readonly Sequence[],
  opts: Omit<PlanOptions, 'seed' | 'gradientAccumulation'>,
  padId: number,
): MicroBatch[] {
  // Held-out loss is a mean over tokens, so its rows need no best-fit: next-fit in file order.
  const rows = packRows(
    seqs.map((_, i) => i),
    seqs,
    opts.seqLen,
    opts.packing !== false,
  );
  const out: MicroBatch[] = [];
  for (let i = 0; i < rows.length; i += opts.batchSize)
    out.push(buildMicroBatch(rows.slice(i, i + opts.batchSize), seqs, opts.batchSize, opts.seqLen, padId));
  return out;
}

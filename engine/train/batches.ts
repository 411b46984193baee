import { createHash } from 'node:crypto';
import { Rng, deriveSeed } from '../../method/rng';
import type { LoadedTokenizer } from '../tokenizer/load';
import type { FineTuneExample } from './examples';

/** An example as tokens: BOS + prompt + completion + EOS; the loss covers tokens from promptLen on. */
export interface Sequence {
  ids: number[];
  promptLen: number;
}

export interface Tokenized {
  sequences: Sequence[];
  /** Examples longer than seqLen + 1 tokens, cut at the end. */
  truncated: number;
  /** Examples whose prompt alone fills the row, so no completion token is left to learn. */
  skipped: number;
}

/**
 * Prompt and completion are tokenised separately (the sampler sees the prompt's tokens, then
 * generates), the prompt with BOS, the completion with EOS appended so the model learns to stop.
 */
export function tokenizeExamples(
  examples: readonly FineTuneExample[],
  tok: LoadedTokenizer,
  seqLen: number,
): Tokenized {
  const out: Tokenized = { sequences: [], truncated: 0, skipped: 0 };
  for (const e of examples) {
    const prompt = tok.encode(e.prompt, { bos: true });
    let ids = [...prompt, ...tok.encode(e.completion), ...(tok.eosId === null ? [] : [tok.eosId])];
    if (ids.length > seqLen + 1) {
      ids = ids.slice(0, seqLen + 1);
      out.truncated++;
    }
    if (prompt.length >= ids.length) {
      out.skipped++;
      continue;
    }
    out.sequences.push({ ids, promptLen: prompt.length });
  }
  return out;
}

/** sha256 of tokenised data: a resumed run must see exactly the data it started with. */
export function fingerprint(...sets: readonly (readonly Sequence[])[]): string {
  const h = createHash('sha256');
  for (const set of sets) {
    h.update(`set ${set.length}\n`);
    for (const s of set) h.update(`${s.promptLen}:${s.ids.join(',')}\n`);
  }
  return h.digest('hex');
}

/** Positions an example occupies in a row: every token but the last is an input. */
const width = (s: Sequence) => s.ids.length - 1;

/** Rows of example indices, in order; with packing, next-fit (an example never straddles rows). */
export function packRows(
  order: readonly number[],
  seqs: readonly Sequence[],
  seqLen: number,
  packing: boolean,
): number[][] {
  const rows: number[][] = [];
  let row: number[] = [];
  let used = 0;
  for (const i of order) {
    const w = width(seqs[i]);
    if (row.length > 0 && (!packing || used + w > seqLen)) {
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
  rows.forEach((row, r) => {
    let at = r * T;
    row.forEach((ex, k) => {
      const { ids, promptLen } = seqs[ex];
      for (let j = 0; j < ids.length - 1; j++, at++) {
        mb.inputIds[at] = BigInt(ids[j]);
        mb.targets[at] = BigInt(ids[j + 1]);
        mb.positionIds[at] = BigInt(j);
        mb.segmentIds[at] = BigInt(k + 1);
        // Position j predicts token j + 1: a completion token when j + 1 >= promptLen.
        if (j + 1 >= promptLen) {
          mb.lossMask[at] = 1;
          mb.lossTokens++;
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
  packing: boolean;
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
      const order = new Rng(deriveSeed(this.opts.seed, 'epoch', epoch)).shuffle(this.seqs.map((_, i) => i));
      this.cached = { epoch, rows: packRows(order, this.seqs, this.opts.seqLen, this.opts.packing) };
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
  const rows = packRows(
    seqs.map((_, i) => i),
    seqs,
    opts.seqLen,
    opts.packing,
  );
  const out: MicroBatch[] = [];
  for (let i = 0; i < rows.length; i += opts.batchSize)
    out.push(buildMicroBatch(rows.slice(i, i + opts.batchSize), seqs, opts.batchSize, opts.seqLen, padId));
  return out;
}

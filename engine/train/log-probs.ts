import { existsSync, readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { BadInputError } from '../../base/errors';
import { loadCheckpoint } from '../checkpoint/checkpoint';
import type { ExecutionProvider } from '../generate/provider';
import { type LoraConfig, loraSpecs } from '../model/lora';
import { type Params, paramSpecs } from '../model/params';
import { TRAIN_IO, buildTrainingGraph } from '../model/training-graph';
import { toBytes } from '../onnx/serialize';
import { loadTokenizer } from '../tokenizer/load';
import {
  type MicroBatch,
  type Sequence,
  autoSeqLen,
  buildMicroBatch,
  packRows,
  tokenizeExamples,
} from './batches';
import { resolveExamples } from './examples';

/** Rows of seqLen tokens, batchSize rows per run, padded with padId. */
export interface ScoringLayout {
  batchSize: number;
  seqLen: number;
  padId: number;
}

/**
 * log π of every completion token (EOS included) of each sequence, in order: the sequences are
 * packed next-fit in their own order, batchSize rows per `score` call, and each position's
 * log-probability is read back where buildMicroBatch laid it. Packing attends within an example
 * only, so a sequence scores the same whatever shares its row. Every sequence must fit a row.
 * `onBatch` is awaited after each call (heartbeats; throwing from it stops the scoring).
 */
export async function scoreCompletions(
  seqs: readonly Sequence[],
  layout: ScoringLayout,
  score: (mb: MicroBatch) => Promise<Float32Array>,
  onBatch?: (p: { scoredRows: number; totalRows: number }) => void | Promise<void>,
): Promise<Float32Array[]> {
  const { batchSize: B, seqLen: T, padId } = layout;
  const out = seqs.map((s) => new Float32Array(s.ids.length - s.promptLen));
  const rows = packRows(
    seqs.map((_, i) => i),
    seqs,
    T,
    true,
  );
  for (let first = 0; first < rows.length; first += B) {
    const chunk = rows.slice(first, first + B);
    const logProbs = await score(buildMicroBatch(chunk, seqs, B, T, padId));
    chunk.forEach((row, r) => {
      let at = r * T;
      for (const ex of row) {
        const { ids, promptLen } = seqs[ex];
        // Position j predicts token j + 1 (buildMicroBatch): completion token k = j + 1 − promptLen.
        for (let j = 0; j < ids.length - 1; j++, at++)
          if (j + 1 >= promptLen) out[ex][j + 1 - promptLen] = logProbs[at];
      }
    });
    await onBatch?.({ scoredRows: first + chunk.length, totalRows: rows.length });
  }
  return out;
}

/**
 * A policy update's per-token scores, in the checkpoints it may resume from: float32 little-endian,
 * every completion token of every training sequence in the data's order. π_old is the starting
 * model's and π_ref a fixed model's, both constant for the whole update, so a resumed run reads them
 * rather than scoring the paths again with weights that have moved. The reference's file exists
 * only when a reference other than the starting model was given.
 */
export const OLD_LOGPROBS_FILE = 'old_logprobs.f32';
export const REF_LOGPROBS_FILE = 'ref_logprobs.f32';

/** Per-sequence scores of `seqs` from `file` (one of the files above), checked against their token count. */
export function readCompletionScores(file: string, seqs: readonly Sequence[]): Float32Array[] {
  if (!existsSync(file))
    throw new BadInputError(file, null, '(file)', "not found: a checkpoint of this 'grpo' run keeps it");
  const bytes = readFileSync(file);
  const all = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const lengths = seqs.map((s) => s.ids.length - s.promptLen);
  const total = lengths.reduce((a, b) => a + b, 0);
  if (bytes.byteLength !== 4 * total)
    throw new BadInputError(
      file,
      null,
      '(file)',
      `${bytes.byteLength} bytes, expected ${4 * total} (4 per completion token)`,
    );
  let at = 0;
  return lengths.map((n) => all.slice(at, (at += n)));
}

/** The bytes of one of the files above. */
export function encodeCompletionScores(scores: readonly Float32Array[]): Buffer {
  const all = new Float32Array(scores.reduce((a, s) => a + s.length, 0));
  let at = 0;
  for (const s of scores) {
    all.set(s, at);
    at += s.length;
  }
  return Buffer.from(all.buffer);
}

export interface CompletionLogProbsOptions {
  /** A checkpoint folder: its weights are the model (as the sampler reads them). */
  model: string;
  /** LoRA adapters applied on the folder's weights (e.g. a policy update's, before merging). */
  lora?: { config: LoraConfig; adapters: Params };
  /** JSONL file of {prompt, completion} lines, or the pairs themselves. */
  examples: string | readonly { prompt: string; completion: string }[];
  /** log softmax(logits / temperature) (default 1: the model's own distribution). */
  temperature?: number;
  /** Rows per run (default 8). */
  batchSize?: number;
  /** Intra-op threads for onnxruntime; default every core. */
  threads?: number;
  provider?: ExecutionProvider;
}

/** Per example: the completion's tokens as the trainer tokenises them (EOS appended) and their log-probabilities. */
export interface CompletionLogProbs {
  tokenIds: number[];
  logProbs: number[];
}

/**
 * Forward only: the log-probability of every completion token of each (prompt, completion) pair
 * under a model (its weights, or base + LoRA adapters), tokenised exactly as fineTune tokenises it.
 * What a policy update needs of the sampling policy and of a reference model; the trainer computes
 * its own through its runner with the same graph.
 */
export async function completionLogProbs(opts: CompletionLogProbsOptions): Promise<CompletionLogProbs[]> {
  const ckpt = loadCheckpoint(opts.model, { weightsOnly: true });
  const c = ckpt.config;
  const tok = loadTokenizer(opts.model);
  const seqs = tokenizeExamples(resolveExamples(opts.examples, '(examples)'), tok).sequences;
  const context = c.ropeScaling?.type === 'dynamic' ? Infinity : c.maxSeqLen;
  const T = autoSeqLen(seqs, context);
  seqs.forEach((s, i) => {
    if (s.ids.length - 1 > T)
      throw new BadInputError(
        '(examples)',
        i + 1,
        '(example)',
        `${s.ids.length} tokens do not fit the model's context of ${T} positions (+ 1)`,
      );
  });
  const B = opts.batchSize ?? 8;
  const graph = buildTrainingGraph(c, {
    batchSize: B,
    seqLen: T,
    mode: 'logprobs',
    packed: true,
    grpo: { temperature: opts.temperature ?? 1 },
    ...(opts.lora ? { lora: opts.lora.config } : {}),
  });
  const session = await ort.InferenceSession.create(toBytes(graph), {
    executionProviders: [opts.provider ?? 'cpu'],
    graphOptimizationLevel: 'all',
    ...(opts.threads === undefined ? {} : { intraOpNumThreads: opts.threads, interOpNumThreads: 1 }),
  });
  const weights: Record<string, ort.Tensor> = {};
  for (const s of paramSpecs(c))
    weights[s.name] = new ort.Tensor('float32', ckpt.params.get(s.name)!, s.shape);
  if (opts.lora)
    for (const s of loraSpecs(c, opts.lora.config)) {
      const data = opts.lora.adapters.get(s.name);
      if (!data) throw new BadInputError('(lora.adapters)', null, s.name, 'missing');
      weights[s.name] = new ort.Tensor('float32', data, s.shape);
    }
  const dims = [B, T];
  try {
    const scores = await scoreCompletions(seqs, { batchSize: B, seqLen: T, padId: tok.padId }, async (mb) => {
      const r = await session.run({
        [TRAIN_IO.inputIds]: new ort.Tensor('int64', mb.inputIds, dims),
        [TRAIN_IO.targets]: new ort.Tensor('int64', mb.targets, dims),
        [TRAIN_IO.positionIds]: new ort.Tensor('int64', mb.positionIds, dims),
        [TRAIN_IO.segmentIds]: new ort.Tensor('int64', mb.segmentIds, dims),
        ...weights,
      });
      return r[TRAIN_IO.tokenLogProbs].data as Float32Array;
    });
    return seqs.map((s, i) => ({ tokenIds: s.ids.slice(s.promptLen), logProbs: Array.from(scores[i]) }));
  } finally {
    await session.release();
  }
}

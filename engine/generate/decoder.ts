import * as ort from 'onnxruntime-node';
import { halvesToFloats } from './fp16';
import { emptyCache } from './kv-cache';
import type { GenerationModel } from './load';

/** The next-token logits of one row of a run's output, as float32 whatever the model's dtype. */
export class LogitsRows {
  readonly size: number;
  private readonly positions: number;
  constructor(readonly tensor: ort.Tensor) {
    const dims = tensor.dims;
    this.size = dims[dims.length - 1];
    // [batch, seq, vocab] from most exports; [batch, vocab] from graphs that keep only the last position.
    this.positions = dims.length === 3 ? dims[1] : 1;
  }

  /** Row r's logits at its last position, into dst (length size). */
  read(r: number, dst: Float32Array): Float32Array {
    const from = (r * this.positions + this.positions - 1) * this.size;
    if (this.tensor.type === 'float16')
      return halvesToFloats((this.tensor.data as Uint16Array).subarray(from, from + this.size), dst);
    dst.set((this.tensor.data as Float32Array).subarray(from, from + this.size));
    return dst;
  }
}

export interface RunResult {
  logits: LogitsRows;
  /** present.{i}.key|value in signature order: the next step's past. */
  present: ort.Tensor[];
}

const int64 = (values: ArrayLike<number>, dims: number[]) =>
  new ort.Tensor(
    'int64',
    BigInt64Array.from(values, (v) => BigInt(v)),
    dims,
  );

async function run(
  model: GenerationModel,
  feeds: Record<string, ort.Tensor>,
  pastLength: number,
): Promise<RunResult> {
  const sig = model.signature;
  if (sig.hasUseCacheBranch)
    feeds.use_cache_branch = new ort.Tensor('bool', Uint8Array.of(pastLength > 0 ? 1 : 0), [1]);
  const out = await model.session.run(feeds);
  const logits = new LogitsRows(out.logits);
  if (logits.size !== model.logitsSize)
    throw new Error(
      `${model.modelFile}: logits have ${logits.size} entries, the model was loaded with ${model.logitsSize}`,
    );
  return { logits, present: sig.presentNames.map((n) => out[n]) };
}

/** One prompt through the model from an empty cache (batch 1). */
export function prefill(model: GenerationModel, ids: readonly number[]): Promise<RunResult> {
  const sig = model.signature;
  const n = ids.length;
  const feeds: Record<string, ort.Tensor> = {
    input_ids: int64(ids, [1, n]),
    attention_mask: int64(new Array<number>(n).fill(1), [1, n]),
  };
  if (sig.hasPositionIds)
    feeds.position_ids = int64(
      Array.from(ids, (_, i) => i),
      [1, n],
    );
  emptyCache(sig, 1).forEach((t, i) => (feeds[sig.pastNames[i]] = t));
  return run(model, feeds, 0);
}

/**
 * One decode step for a batch: row r feeds `tokens[r]` at `positions[r]` (normally its real cache
 * length) after a past of `width` columns, of which only the rightmost `lengths[r]` are real.
 */
export function decodeStep(
  model: GenerationModel,
  past: readonly ort.Tensor[],
  width: number,
  tokens: readonly number[],
  lengths: readonly number[],
  positions: readonly number[] = lengths,
): Promise<RunResult> {
  const sig = model.signature;
  const rows = tokens.length;
  const mask = new BigInt64Array(rows * (width + 1));
  for (let r = 0; r < rows; r++) mask.fill(1n, r * (width + 1) + width - lengths[r], (r + 1) * (width + 1));
  const feeds: Record<string, ort.Tensor> = {
    input_ids: int64(tokens, [rows, 1]),
    attention_mask: new ort.Tensor('int64', mask, [rows, width + 1]),
  };
  if (sig.hasPositionIds) feeds.position_ids = int64(positions, [rows, 1]);
  past.forEach((t, i) => (feeds[sig.pastNames[i]] = t));
  return run(model, feeds, width);
}

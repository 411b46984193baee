import { Graph } from '../onnx/graph';
import * as o from '../onnx/ops';
import { type LlamaConfig, headDim } from './config';
import { type KeyValue, llamaForward } from './llama';
import { type Params, paramSpecs } from './params';

/** Symbolic dimension names of the inference graph (Hugging Face Optimum's, plus the total length). */
export const DIMS = {
  batch: 'batch_size',
  seq: 'sequence_length',
  past: 'past_sequence_length',
  /** Keys after this step: what the concat of past and new keys has along the sequence axis. */
  total: 'past_sequence_length+sequence_length',
} as const;

/**
 * The inference graph in the Optimum decoder convention: inputs `input_ids`, `attention_mask`
 * (`[batch, past + seq]`, 1 for real tokens), `position_ids`, `past_key_values.{i}.key|value`
 * (`[batch, kv_heads, past, head_dim]`, past may be 0); outputs `logits` and
 * `present.{i}.key|value`. Weights are float32 initializers.
 */
export function buildInferenceGraph(c: LlamaConfig, params: Params): Graph {
  const g = new Graph('llama');
  const d = headDim(c);
  const inputIds = g.input('input_ids', 'int64', [DIMS.batch, DIMS.seq]);
  const attentionMask = g.input('attention_mask', 'int64', [DIMS.batch, DIMS.total]);
  const positionIds = g.input('position_ids', 'int64', [DIMS.batch, DIMS.seq]);
  const past: KeyValue[] = [];
  for (let i = 0; i < c.nLayers; i++) {
    const shape = [DIMS.batch, c.nKvHeads, DIMS.past, d];
    past.push({
      key: g.input(`past_key_values.${i}.key`, 'float32', shape),
      value: g.input(`past_key_values.${i}.value`, 'float32', shape),
    });
  }
  const w: Record<string, ReturnType<Graph['input']>> = {};
  for (const s of paramSpecs(c)) {
    const data = params.get(s.name);
    if (!data) throw new Error(`buildInferenceGraph: missing weight ${s.name}`);
    w[s.name] = g.initializer(s.name, 'float32', s.shape, data);
  }

  // Query t (absolute position past + t) may see key s when s <= past + t and s is not padding.
  const seqLen = o.gather(o.shapeOf(inputIds), g.ints([1]));
  const totalLen = o.gather(o.shapeOf(attentionMask), g.ints([1]));
  const pastLen = o.gather(o.shapeOf(past[0].key), g.scalar(2, 'int64')); // []
  const ones = o.full(inputIds, o.concat([seqLen, totalLen], 0), 1, 'float32'); // [T, S]
  let causal = o.cast(o.trilu(ones, false, pastLen), 'bool'); // [T, S]
  if (c.slidingWindow !== null) {
    // Mistral: and s > past + t - window. Columns are positions here (padding is on the left, real
    // keys contiguous), so the distance between columns is the distance between positions.
    const tooFar = o.cast(o.trilu(ones, false, o.sub(pastLen, c.slidingWindow)), 'bool'); // [T, S]
    causal = o.and(causal, o.not(tooFar));
  }
  const notPad = o.unsqueeze(o.cast(attentionMask, 'bool'), [1, 2, 3]); // [B, 1, 1, 1, S]
  const allowed = o.and(causal, notPad); // [B, 1, 1, T, S]

  const out = llamaForward(c, w, { inputIds, positionIds, allowed, past });
  g.output(out.logits, 'logits');
  out.present.forEach((kv, i) => {
    g.output(kv.key, `present.${i}.key`);
    g.output(kv.value, `present.${i}.value`);
  });
  return g;
}

import { LlamaConfig, buildTrainingGraph } from '../../../engine/model';
import { LoraConfig } from '../../../engine/model/lora-config';
import { BYTES_PER_ELEMENT } from '../../../engine/onnx/dtype';
import { numel } from '../../../engine/onnx/shape';

/**
 * What a training step's activations cost as a function of the batch's shape [B, T], read from the
 * training graph the trainer builds (packed rows, the update in its own graph): the bytes of every
 * value the graph computes. A value whose shape holds T twice is attention's ([B, H, T, T] scores and
 * probabilities, the [B, 1, T, T] segment mask); every other value must grow linearly with the
 * batch's tokens. That is why the packing length (training.maxSeqLen: the longest example rounded
 * up, engine/train/batches.ts), not the model's context, must set T: attention's part grows with T².
 */

// No model dimension equals a T or B·T used below, so a dimension equal to T is the sequence axis.
// The vocabulary is below every B·T, so the embedding's gradient is its one-hot over the table, of
// known size (grad-rules.ts); over a real vocabulary it is over the batch's distinct ids, a number
// known only at run time and at most B·T.
const CONFIG: LlamaConfig = LlamaConfig.parse({
  vocabSize: 24,
  dModel: 32,
  nLayers: 2,
  nHeads: 4,
  nKvHeads: 2,
  dFF: 88,
  maxSeqLen: 256,
});
const TS = [40, 56, 72]; // equally spaced: a second difference of zero means linear
const BS = [1, 2, 3];

function activationBytes(B: number, T: number, lora: boolean) {
  const g = buildTrainingGraph(CONFIG, {
    batchSize: B,
    seqLen: T,
    mode: 'step',
    packed: true,
    separateUpdate: true,
    ...(lora ? { lora: LoraConfig.parse({ rank: 4 }) } : {}),
  });
  let linear = 0;
  let attention = 0;
  for (const node of g.nodes)
    for (const out of node.outputs) {
      const shape = out.shape.map((d) => {
        if (typeof d !== 'number')
          throw new Error(`${out.name}: symbolic dimension ${d} in a training graph`);
        return d;
      });
      const bytes = numel(shape) * BYTES_PER_ELEMENT[out.dtype];
      if (shape.filter((d) => d === T).length >= 2) attention += bytes;
      else linear += bytes;
    }
  return { linear, attention };
}

describe.each([
  ['full fine-tuning', false],
  ['LoRA', true],
])('%s: activation memory against the batch shape', (_, lora) => {
  const at = new Map<string, { linear: number; attention: number }>();
  const get = (B: number, T: number) => {
    const key = `${B}x${T}`;
    if (!at.has(key)) at.set(key, activationBytes(B, T, lora));
    return at.get(key)!;
  };

  test('everything but attention grows linearly in B and in T', () => {
    for (const T of TS) {
      const [a, b, c] = BS.map((B) => get(B, T).linear);
      expect(a - 2 * b + c).toBe(0);
      expect(b).toBeGreaterThan(a);
    }
    for (const B of BS) {
      const [a, b, c] = TS.map((T) => get(B, T).linear);
      expect(a - 2 * b + c).toBe(0);
      expect(b).toBeGreaterThan(a);
    }
  });

  test('attention is the only part that grows with T², and linearly in B', () => {
    for (const B of BS) {
      const perT2 = TS.map((T) => get(B, T).attention / (T * T));
      expect(perT2[0]).toBeGreaterThan(0);
      expect(perT2[1]).toBe(perT2[0]);
      expect(perT2[2]).toBe(perT2[0]);
    }
    for (const T of TS) {
      const [a, b, c] = BS.map((B) => get(B, T).attention);
      expect(a - 2 * b + c).toBe(0);
    }
  });

  test('at a fixed number of tokens a batch (144 as 1 × 144, 2 × 72, 3 × 48) the linear part is the same (to under 1 %), attention is smaller the shorter the rows', () => {
    const [one, two, three] = [activationBytes(1, 144, lora), get(2, 72), activationBytes(3, 48, lora)];
    // Equal for full fine-tuning; LoRA adds a few values per row (B alone), well under 1 %.
    expect(Math.abs(two.linear - one.linear) / one.linear).toBeLessThan(0.01);
    expect(Math.abs(three.linear - one.linear) / one.linear).toBeLessThan(0.01);
    expect(two.attention).toBeLessThan(one.attention);
    expect(three.attention).toBeLessThan(two.attention);
  });
});

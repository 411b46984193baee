/** @jest-environment ./tests/engine/ort-environment.ts */
jest.mock('onnxruntime-node', () => (globalThis as Record<string, unknown>).__onnxruntimeNode);
import * as ort from 'onnxruntime-node';
import { type Batch, type BatchRow, arrangeBatches } from '../../../engine/generate/batching';
import { assembleCache } from '../../../engine/generate/kv-cache';
import type { DecoderSignature } from '../../../engine/generate/signature';

const sig: DecoderSignature = {
  layers: 1,
  pastNames: ['past_key_values.0.key', 'past_key_values.0.value'],
  presentNames: ['present.0.key', 'present.0.value'],
  cacheDType: 'float32',
  kvHeads: 2,
  headDim: 3,
  logitsDType: 'float32',
  logitsSize: 10,
  hasPositionIds: true,
  hasUseCacheBranch: false,
};

/** A prefill-like cache of one row whose entries encode (tag, tensor, head, position, dim). */
function prefillRow(tag: number, length: number): BatchRow & { tag: number } {
  const tensors = sig.pastNames.map((_, t) => {
    const data = new Float32Array(sig.kvHeads * length * sig.headDim);
    for (let h = 0; h < sig.kvHeads; h++)
      for (let p = 0; p < length; p++)
        for (let d = 0; d < sig.headDim; d++)
          data[(h * length + p) * sig.headDim + d] = tag * 10000 + t * 1000 + h * 100 + p * 10 + d;
    return new ort.Tensor('float32', data, [1, sig.kvHeads, length, sig.headDim]);
  });
  return { tag, finish: null, slot: { tensors, row: 0, width: length, length } };
}

/** Row r of a batch tensor as [head][column][dim] values. */
function rowOf(t: ort.Tensor, r: number): number[][][] {
  const [, heads, width, dim] = t.dims;
  const data = t.data as Float32Array;
  return Array.from({ length: heads }, (_, h) =>
    Array.from({ length: width }, (_, c) =>
      Array.from(data.subarray(((r * heads + h) * width + c) * dim, ((r * heads + h) * width + c + 1) * dim)),
    ),
  );
}

describe('cache assembly', () => {
  it('right-aligns each row and zeros the padding on its left', () => {
    const a = prefillRow(1, 2);
    const b = prefillRow(2, 4);
    const past = assembleCache(sig, [a.slot, b.slot], 4);
    expect(past[1].dims).toEqual([2, 2, 4, 3]);
    const rowA = rowOf(past[1], 0);
    expect(rowA[1][0]).toEqual([0, 0, 0]);
    expect(rowA[1][1]).toEqual([0, 0, 0]);
    expect(rowA[1][2]).toEqual([11100, 11101, 11102]);
    expect(rowA[1][3]).toEqual([11110, 11111, 11112]);
    expect(rowOf(past[0], 1)[0][3]).toEqual([20030, 20031, 20032]);
    expect(() => assembleCache(sig, [b.slot], 3)).toThrow(/holds 4 positions, batch width 3/);
  });
});

describe('batch arrangement', () => {
  type Row = ReturnType<typeof prefillRow>;

  it('equal-length batching: rows join only a batch of their own length; untouched batches keep their tensors', () => {
    const [x, y, z] = [prefillRow(1, 3), prefillRow(2, 5), prefillRow(3, 3)];
    const batches = arrangeBatches<Row>(sig, [], [x, y, z], false);
    expect(batches.map((b) => [b.width, b.rows.map((r) => r.tag)])).toEqual([
      [3, [1, 3]],
      [5, [2]],
    ]);
    const again = arrangeBatches(sig, batches, [], false);
    expect(again[0]).toBe(batches[0]);
    expect(again[0].past).toBe(batches[0].past);
  });

  it('keeps finished rows until a quarter of the batch has finished, then compacts', () => {
    const rows = Array.from({ length: 8 }, (_, i) => prefillRow(i + 1, 2));
    let batches: Batch<Row>[] = arrangeBatches(sig, [], rows, false);
    rows[0].finish = 'eos';
    rows[1].finish = 'length';
    const kept = arrangeBatches(sig, batches, [], false);
    expect(kept[0]).toBe(batches[0]);
    rows[2].finish = 'stop';
    batches = arrangeBatches(sig, kept, [], false);
    expect(batches[0].rows.map((r) => r.tag)).toEqual([4, 5, 6, 7, 8]);
    expect(rowOf(batches[0].past[0], 0)[0][1]).toEqual([40010, 40011, 40012]);
    // A batch whose rows have all finished disappears without a copy.
    for (const r of rows) r.finish = 'eos';
    expect(arrangeBatches(sig, batches, [], false)).toEqual([]);
  });

  it('rows joining a batch compact it at once', () => {
    const rows = [prefillRow(1, 2), prefillRow(2, 2), prefillRow(3, 2), prefillRow(4, 2)];
    const batches = arrangeBatches<Row>(sig, [], rows.slice(0, 3), false);
    rows[0].finish = 'eos';
    const next = arrangeBatches(sig, batches, [rows[3]], false);
    expect(next[0].rows.map((r) => r.tag)).toEqual([2, 3, 4]);
  });

  it('mixed lengths: one left-padded batch as wide as its longest row', () => {
    const rows = [prefillRow(1, 2), prefillRow(2, 5), prefillRow(3, 3)];
    const [batch, ...rest] = arrangeBatches<Row>(sig, [], rows, true);
    expect(rest).toEqual([]);
    expect(batch.width).toBe(5);
    expect(batch.rows.map((r) => r.slot)).toEqual(
      [2, 5, 3].map((length, row) => ({ tensors: batch.past, row, width: 5, length })),
    );
    rows[1].finish = 'eos';
    const [narrower] = arrangeBatches(sig, [batch], [prefillRow(4, 1)], true);
    // The longest row left, so the padding shrinks to the longest remaining.
    expect(narrower.width).toBe(3);
    expect(narrower.rows.map((r) => r.tag)).toEqual([1, 3, 4]);
  });
});

import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { decodeSafetensors, encodeSafetensors, readSafetensors } from '../../engine/checkpoint/safetensors';
import { isBadInputError } from '../../base/errors';

const reference = path.join(__dirname, '../fixtures/safetensors/reference.safetensors');

describe('safetensors', () => {
  it('reads a file written by the reference implementation (safetensors 0.8.0)', () => {
    const { tensors, metadata } = readSafetensors(reference);
    expect(metadata).toEqual({ format: 'pt', note: 'lmsi' });
    expect(tensors['b.weight'].dtype).toBe('F32');
    expect(tensors['b.weight'].shape).toEqual([2, 3]);
    expect(Array.from(tensors['b.weight'].data as Float32Array)).toEqual([0, 0.5, 1, 1.5, 2, 2.5]);
    // float16 stays as bit patterns: 1.5 = 0x3e00, -2.25 = 0xc080.
    expect(Array.from(tensors['a.bias'].data as Uint16Array)).toEqual([0x3e00, 0xc080]);
    expect(Array.from(tensors.step.data as BigInt64Array)).toEqual([7n]);
    expect(Array.from(tensors.z.data as Float64Array)).toEqual([1e-300]);
  });

  it('writes exactly the bytes the reference implementation wrote', () => {
    const bytes = readFileSync(reference);
    const { tensors, metadata } = decodeSafetensors(bytes);
    expect(encodeSafetensors(tensors, metadata).equals(bytes)).toBe(true);
  });

  it('round-trips every dtype', () => {
    const tensors = {
      f64: { dtype: 'F64' as const, shape: [2], data: new Float64Array([Math.PI, -0]) },
      i32: { dtype: 'I32' as const, shape: [3, 1], data: new Int32Array([1, -2, 3]) },
      u8: { dtype: 'U8' as const, shape: [0], data: new Uint8Array([]) },
    };
    const back = decodeSafetensors(encodeSafetensors(tensors)).tensors;
    expect(Array.from(back.f64.data as Float64Array)).toEqual([Math.PI, -0]);
    expect(back.i32.shape).toEqual([3, 1]);
    expect(back.u8.data.length).toBe(0);
  });

  it('rejects truncated and inconsistent files, naming the file and the tensor field', () => {
    const bytes = readFileSync(reference);
    const fail = (b: Buffer) => {
      try {
        decodeSafetensors(b, 'model.safetensors');
      } catch (e) {
        expect(isBadInputError(e)).toBe(true);
        return (e as Error).message;
      }
      throw new Error('accepted a bad file');
    };
    expect(fail(bytes.subarray(0, 4))).toMatch(/^model\.safetensors: header: /);
    expect(fail(bytes.subarray(0, 100))).toMatch(
      /^model\.safetensors: header: header length \d+ does not fit/,
    );
    expect(fail(bytes.subarray(0, bytes.length - 2))).toMatch(/^model\.safetensors: \S+\.data_offsets: /);
    expect(() => encodeSafetensors({ x: { dtype: 'F32', shape: [3], data: new Float32Array(2) } })).toThrow(
      'tensor x has 2 elements, its shape [3] needs 3',
    );
  });
});

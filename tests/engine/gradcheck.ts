import type * as ort from 'onnxruntime-node';
import { Rng } from '../../base/rng';
import { type DType, Graph, type Tensor, createSession, grad, ortTensor, ops as o } from '../../engine/onnx';
import { isConcrete } from '../../engine/onnx/shape';

/** One input of a gradient check: float inputs are differentiated, others are fixed data. */
export interface CheckInput {
  shape: number[];
  dtype?: DType;
  /** Uniform range for float inputs (default [-1, 1]). */
  range?: [number, number];
  /** Fixed values (integer and bool inputs). */
  data?: number[];
}

export interface CheckResult {
  /** Per float input: max |analytic − numeric| / max |numeric|. */
  relErr: number[];
  /** Per float input: max |numeric|, so a test can tell a real gradient from an all-zero one. */
  scale: number[];
}

const H = 1e-5;

function randomValues(rng: Rng, n: number, [lo, hi]: [number, number]): Float64Array {
  return Float64Array.from({ length: n }, () => lo + (hi - lo) * rng.next());
}

/**
 * Checks d/dx sum(op(x) · w), w a fixed random tensor, built by autodiff in one onnxruntime session,
 * against central finite differences evaluated through the same session (float64 throughout).
 */
export async function gradCheck(
  seed: number,
  inputs: CheckInput[],
  build: (g: Graph, xs: Tensor[]) => Tensor,
): Promise<CheckResult> {
  const rng = new Rng(seed);
  const g = new Graph('gradcheck');
  const xs = inputs.map((c, i) => g.input(`x${i}`, c.dtype ?? 'float64', c.shape));
  const y = build(g, xs);
  if (!isConcrete(y.shape)) throw new Error(`gradCheck: output shape must be concrete, got ${y}`);
  const n = y.shape.reduce((a, b) => a * b, 1);
  const w = g.constant('float64', y.shape, randomValues(rng, n, [-1, 1]));
  const f = o.reduceSum(o.mul(y, w));
  const floatIdx = xs.flatMap((x, i) => (x.dtype === 'float64' ? [i] : []));
  const grads = grad(
    f,
    floatIdx.map((i) => xs[i]),
  );
  g.output(f, 'f');
  grads.forEach((t, k) => g.output(t, `grad_${k}`));
  const session = await createSession(g);

  const values = inputs.map((c) => {
    const len = c.shape.reduce((a, b) => a * b, 1);
    return (c.dtype ?? 'float64') === 'float64' ? randomValues(rng, len, c.range ?? [-1, 1]) : (c.data ?? []);
  });
  const feeds = (): Record<string, ort.Tensor> =>
    Object.fromEntries(xs.map((x, i) => [x.name, ortTensor(x.dtype, values[i], inputs[i].shape)]));
  const base = await session.run(feeds());
  const fAt = async (): Promise<number> => Number((await session.run(feeds(), ['f'])).f.data[0]);

  const relErr: number[] = [];
  const scale: number[] = [];
  for (const [k, i] of floatIdx.entries()) {
    const analytic = base[`grad_${k}`].data as Float64Array;
    const v = values[i] as Float64Array;
    let maxDiff = 0;
    let maxNum = 0;
    for (let j = 0; j < v.length; j++) {
      const keep = v[j];
      v[j] = keep + H;
      const up = await fAt();
      v[j] = keep - H;
      const down = await fAt();
      v[j] = keep;
      const numeric = (up - down) / (2 * H);
      maxDiff = Math.max(maxDiff, Math.abs(analytic[j] - numeric));
      maxNum = Math.max(maxNum, Math.abs(numeric));
    }
    relErr.push(maxDiff / Math.max(maxNum, 1e-300));
    scale.push(maxNum);
  }
  return { relErr, scale };
}

/** Asserts every float input's gradient is non-trivial and matches finite differences to 1e-6. */
export function expectClose(r: CheckResult): void {
  for (let k = 0; k < r.relErr.length; k++) {
    expect(r.scale[k]).toBeGreaterThan(1e-3);
    expect(r.relErr[k]).toBeLessThan(1e-6);
  }
}

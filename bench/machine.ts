import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { Graph, ops as o, toBytes } from '../engine/onnx';
import { Rng } from '../base/rng';

// The machine a result was measured on: shared with the demo's results (testing/machine.ts).
export { machine } from '../testing/machine';

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Milliseconds of 10 runs after a warm-up run; the session is released after. */
async function runTimes(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>): Promise<number[]> {
  await session.run(feeds);
  const times: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t = performance.now();
    await session.run(feeds);
    times.push(performance.now() - t);
  }
  await session.release();
  return times;
}

/** Side of the square fp32 MatMul whose rate is a benchmark's limit. */
export const MATMUL_N = 2048;

/**
 * The machine's fp32 MatMul rate through onnxruntime (GFLOP/s, best and median of 10 runs of an
 * N×N product). On cuda the timing includes copying the inputs to the device: a lower bound.
 */
export async function matmulGflops(
  threads: number,
  provider: 'cpu' | 'cuda' = 'cpu',
): Promise<{ best: number; median: number }> {
  const g = new Graph('matmul');
  const a = g.input('a', 'float32', [MATMUL_N, MATMUL_N]);
  const b = g.input('b', 'float32', [MATMUL_N, MATMUL_N]);
  g.output(o.matmul(a, b), 'c');
  const session = await ort.InferenceSession.create(toBytes(g), {
    executionProviders: [provider],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
  });
  const rng = new Rng(1);
  const data = Float32Array.from({ length: MATMUL_N * MATMUL_N }, () => rng.next() - 0.5);
  const feeds = {
    a: new ort.Tensor('float32', data, [MATMUL_N, MATMUL_N]),
    b: new ort.Tensor('float32', data, [MATMUL_N, MATMUL_N]),
  };
  const times = await runTimes(session, feeds);
  const rate = (ms: number) => (2 * MATMUL_N ** 3) / (ms / 1000) / 1e9;
  return { best: rate(Math.min(...times)), median: rate(median(times)) };
}

/**
 * The memory bandwidth a decode step can get (GB/s, best and median of 10 runs): a batch-1 GEMV
 * x·W over a 256 MB fp32 weight matrix held by the session (on the device on cuda), which reads every
 * weight once per run as a batch-1 decode step does. A model's memory-bound decode rate at batch 1 is
 * this bandwidth over its weight bytes.
 */
export async function gemvBandwidthGBps(
  threads: number,
  provider: 'cpu' | 'cuda' = 'cpu',
): Promise<{ best: number; median: number }> {
  const [rows, cols] = [4096, 16384];
  const rng = new Rng(2);
  const g = new Graph('gemv');
  const x = g.input('x', 'float32', [1, rows]);
  const w = g.initializer(
    'w',
    'float32',
    [rows, cols],
    Float32Array.from({ length: rows * cols }, () => rng.next() - 0.5),
  );
  g.output(o.matmul(x, w), 'y');
  const session = await ort.InferenceSession.create(toBytes(g), {
    executionProviders: [provider],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
  });
  const feeds = {
    x: new ort.Tensor(
      'float32',
      Float32Array.from({ length: rows }, () => rng.next()),
      [1, rows],
    ),
  };
  const times = await runTimes(session, feeds);
  const rate = (ms: number) => (rows * cols * 4) / (ms / 1000) / 1e9;
  return { best: rate(Math.min(...times)), median: rate(median(times)) };
}

/** @jest-environment ./tests/engine/ort-environment.ts */
jest.mock('onnxruntime-node', () => (globalThis as Record<string, unknown>).__onnxruntimeNode);
import * as ort from 'onnxruntime-node';
import { processors } from '../../../engine/generate';
import { drawConstants, processLogits, topPStages } from '../../../engine/model/draw-in-graph';
import { Graph, createSession } from '../../../engine/onnx';
import { Rng } from '../../../base/rng';
import { fastUniform } from '../../../testing/fast-uniform';

// top-p and min-p inside the decode-steps graph (draw-in-graph.ts) against the host's processors
// (processors/top-p.ts, min-p.ts), after untokenizable ids, temperature and top-k as the sampler
// orders them. min-p's cut is the host's to the bit. top-p's nucleus is the host's except where a
// running sum of the ranked weights lies within float64 rounding of p · total (the host adds the
// nucleus in partition order, the graph in rank order, and onnxruntime's Exp may differ from
// Math.exp in the last place): every other row must keep exactly the host's tokens, with its
// logits unchanged.

interface Setting {
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
}

async function processSession(V: number, tokenizerVocab: number, s: Setting) {
  const g = new Graph('truncate');
  const logits = g.input('logits', 'float32', ['rows', V]);
  const invT = g.input('inverse_temperature', 'float64', []);
  const { l } = processLogits(drawConstants(g, V, tokenizerVocab), logits, invT, {
    topK: s.topK > 0 ? g.input('top_k', 'int64', [1]) : null,
    topP: s.topP < 1 ? g.input('top_p', 'float64', []) : null,
    logMinP: s.minP > 0 ? g.input('log_min_p', 'float64', []) : null,
  });
  g.output(l, 'processed');
  return createSession(g, { intraOpNumThreads: 2 });
}

function hostProcessed(raw: Float32Array, V: number, tokenizerVocab: number, s: Setting): Float32Array {
  const logits = Float32Array.from(raw);
  const list = processors.buildLogitsProcessors({ ...s, tokenizerVocabSize: tokenizerVocab, logitsSize: V });
  for (const p of list) p.apply(logits, { promptIds: [], completionIds: [] });
  return logits;
}

/**
 * Whether some running sum of the weights in rank order (logit desc, id asc) lies within `rel` of
 * p · total, where the nucleus is decided: only there may graph and host disagree.
 */
function nearNucleusBoundary(beforeTopP: Float32Array, p: number, rel = 1e-12): boolean {
  const finite = Array.from(beforeTopP.keys()).filter((i) => beforeTopP[i] !== -Infinity);
  const max = Math.max(...finite.map((i) => beforeTopP[i]));
  let total = 0;
  for (const i of finite) total += Math.exp(beforeTopP[i] - max);
  finite.sort((a, b) => beforeTopP[b] - beforeTopP[a] || a - b);
  let run = 0;
  for (const i of finite) {
    run += Math.exp(beforeTopP[i] - max);
    if (Math.abs(run - p * total) <= rel * total) return true;
  }
  return false;
}

/**
 * Rows of random logits (fastUniform seeded from the test's stream; Math.round read once, since
 * every global lookup in jest's vm context is slow), eight kinds in turn: quantised to a few values (ties
 * across the nucleus's boundary), uniform over widths 3, 12, 200 and 3 000 (nuclei of most of the
 * vocabulary down to a few tokens), and flat (a nucleus past every stage of TopK, so the graph
 * sorts the whole vocabulary); a few -inf entries in every row. At p 0.9 some row's nucleus ends in
 * each of top-p's stages.
 */
const { round } = Math;
const SPREADS = [0, 3, 12, 0.01, 3, 200, 12, 3000];
function randomLogits(rng: Rng, rows: number, V: number): Float32Array {
  const next = fastUniform(rng.int(1, 2 ** 31 - 1));
  const logits = new Float32Array(rows * V);
  for (let r = 0; r < rows; r++) {
    const spread = SPREADS[r % SPREADS.length];
    for (let i = 0; i < V; i++)
      logits[r * V + i] = spread === 0 ? round(next() * 4) : (next() - 0.5) * spread;
    for (let j = 0; j < 3; j++) logits[r * V + Math.floor(next() * V)] = -Infinity;
  }
  return logits;
}

async function expectHostTruncation(
  V: number,
  tokenizerVocab: number,
  rows: number,
  s: Setting,
  seed: number,
) {
  const session = await processSession(V, tokenizerVocab, s);
  const logits = randomLogits(new Rng(seed), rows, V);
  const feeds: Record<string, ort.Tensor> = {
    logits: new ort.Tensor('float32', logits, [rows, V]),
    inverse_temperature: new ort.Tensor(
      'float64',
      Float64Array.of(s.temperature > 0 ? 1 / s.temperature : 1),
      [],
    ),
  };
  if (s.topK > 0) feeds.top_k = new ort.Tensor('int64', BigInt64Array.of(BigInt(Math.min(s.topK, V))), [1]);
  if (s.topP < 1) feeds.top_p = new ort.Tensor('float64', Float64Array.of(s.topP), []);
  if (s.minP > 0) feeds.log_min_p = new ort.Tensor('float64', Float64Array.of(Math.log(s.minP)), []);
  const out = (await session.run(feeds)).processed.data as Float32Array;
  await session.release();
  let boundaryRows = 0;
  const keptCounts: number[] = [];
  for (let r = 0; r < rows; r++) {
    const raw = logits.subarray(r * V, (r + 1) * V);
    const host = hostProcessed(raw, V, tokenizerVocab, s);
    const graph = out.subarray(r * V, (r + 1) * V);
    keptCounts.push(host.reduce((n, x) => n + (x === -Infinity ? 0 : 1), 0));
    if (graph.every((x, i) => Object.is(x, host[i]))) continue;
    // Only top-p may differ, and only on a boundary of the nucleus.
    expect([r, s.topP < 1]).toEqual([r, true]);
    const beforeTopP = hostProcessed(raw, V, tokenizerVocab, { ...s, topP: 1, minP: 0 });
    expect([r, nearNucleusBoundary(beforeTopP, s.topP)]).toEqual([r, true]);
    boundaryRows++;
  }
  expect(boundaryRows).toBeLessThanOrEqual(1);
  return keptCounts;
}

describe.each([
  { V: 96, tokenizerVocab: 90, rows: 60 },
  { V: 3000, tokenizerVocab: 2990, rows: 24 },
  { V: 32000, tokenizerVocab: 31990, rows: 16 },
  { V: 151936, tokenizerVocab: 151665, rows: 8 },
])('top-p and min-p in the graph, vocabulary $V', ({ V, tokenizerVocab, rows }) => {
  const settings: (Setting & { name: string })[] = [
    { name: 'top-p 0.9', temperature: 1, topK: 0, topP: 0.9, minP: 0 },
    { name: 'top-p 0.5 at T 0.7', temperature: 0.7, topK: 0, topP: 0.5, minP: 0 },
    { name: 'top-p 0.999 (tails cut inside runs of ties)', temperature: 1.3, topK: 0, topP: 0.999, minP: 0 },
    { name: 'top-p 1e-6 (a nucleus of one)', temperature: 1, topK: 0, topP: 1e-6, minP: 0 },
    { name: 'top-k 40 + top-p 0.8', temperature: 0.8, topK: 40, topP: 0.8, minP: 0 },
    { name: 'min-p 0.05', temperature: 1, topK: 0, topP: 1, minP: 0.05 },
    { name: 'top-k 50 + top-p 0.95 + min-p 0.1', temperature: 0.9, topK: 50, topP: 0.95, minP: 0.1 },
    { name: 'greedy with top-p 0.9 + min-p 0.2', temperature: 0, topK: 0, topP: 0.9, minP: 0.2 },
  ];
  it.each(settings)("keeps the host's tokens: $name", async (s) => {
    const kept = await expectHostTruncation(V, tokenizerVocab, rows, s, V + s.topP * 1000 + s.minP * 100);
    if (s.topP === 1e-6) expect(kept.every((n) => n === 1)).toBe(true);
    if (s.topP === 0.999 && V > 1024) {
      // The quantised rows' tails are a run of equal logits cut in the middle: the bottom stage
      // ranks ties by higher id first (the reverse of rank order).
      const { tail } = topPStages(V);
      kept.forEach((n, r) => {
        if (r % SPREADS.length === 0) expect([r, V - n < tail!, n < V - 3]).toEqual([r, true, true]);
      });
    }
    if (s.topP === 0.9 && s.topK === 0) {
      // Some row's boundary is found by each stage the graph has at this size: the first 1 024
      // ranks, the first 16 384, the tail from the bottom, the whole vocabulary ranked.
      const { top, tail } = topPStages(V);
      const stageOf = (n: number) => {
        const i = top.findIndex((size) => n <= size);
        return i >= 0 ? `top ${top[i]}` : tail !== null && V - n < tail ? 'tail' : 'all';
      };
      const expected = [...top.map((size) => `top ${size}`), ...(tail !== null ? ['tail', 'all'] : [])];
      expect([...new Set(kept.map(stageOf))].sort()).toEqual(expected.sort());
    }
  });
});

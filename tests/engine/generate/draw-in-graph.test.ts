/** @jest-environment ./tests/engine/ort-environment.ts */
jest.mock('onnxruntime-node', () => (globalThis as Record<string, unknown>).__onnxruntimeNode);
import * as ort from 'onnxruntime-node';
import { chooseToken, processors } from '../../../engine/generate';
import { drawConstants, drawToken } from '../../../engine/model/draw-in-graph';
import { Graph, createSession } from '../../../engine/onnx';
import { Rng } from '../../../base/rng';
import { fastUniform } from '../../../testing/fast-uniform';

// The decode-steps graph draws tokens in onnxruntime with the host's formula and float64 arithmetic.
// onnxruntime's Exp is not Math.exp bit for bit (about 1 value in 9 differs in the last place), so the
// contract is: the same token as the host's processors + chooseToken, except where u·total lies within
// float64 rounding (1e-12 relative here) of a boundary of the running sum; log-probabilities agree to
// 1e-12. Random uniforms never come that close; uniforms placed on boundaries check the exception.
// The draw is linear in the vocabulary (TopK, CumSum), so it is checked at a character-level size and
// at Llama's 32 000 and Qwen2's 151 936 tokens.
let V = 96;
let TOKENIZER_VOCAB = 90;

async function drawSession(topK: boolean) {
  const g = new Graph('draw');
  const logits = g.input('logits', 'float32', ['rows', V]);
  const u = g.input('u', 'float64', ['rows', 1]);
  const invT = g.input('inverse_temperature', 'float64', []);
  const k = topK ? g.input('top_k', 'int64', [1]) : null;
  const d = drawToken(drawConstants(g, V, TOKENIZER_VOCAB), logits, u, invT, {
    topK: k,
    topP: null,
    logMinP: null,
  });
  g.output(d.token, 'token');
  g.output(d.chosenLogit, 'chosen');
  g.output(d.maxLogit, 'max');
  g.output(d.total, 'total');
  return createSession(g, { intraOpNumThreads: 1 });
}

function processed(raw: Float32Array, temperature: number, topK: number): Float32Array {
  const logits = Float32Array.from(raw);
  const list = processors.buildLogitsProcessors({
    temperature,
    topK,
    tokenizerVocabSize: TOKENIZER_VOCAB,
    logitsSize: V,
  });
  for (const p of list) p.apply(logits, { promptIds: [], completionIds: [] });
  return logits;
}

/** The running sum of exp(l - max) as chooseToken computes it, and its total. */
function runningSum(logits: Float32Array): { cum: number[]; total: number } {
  const max = logits.reduce((m, x) => (x > m ? x : m), -Infinity);
  let c = 0;
  const cum = Array.from(logits, (l) => (c += l === -Infinity ? 0 : Math.exp(l - max)));
  return { cum, total: c };
}

/** u on the boundary after the i-th token with mass: (running sum there) / total. */
function boundary(logits: Float32Array, i: number): number {
  const { cum, total } = runningSum(logits);
  const ends = cum.flatMap((x, j) => ((j === 0 ? x > 0 : x > cum[j - 1]) ? [j] : []));
  return cum[ends[i % ends.length]] / total;
}

/**
 * Rows of random logits, some with ties and very peaked ones (uniforms that include CDF boundaries
 * are chosen below). fastUniform seeded from the test's stream, Math.round read once: inside jest's
 * vm context every global lookup in a loop of a million values is slow.
 */
const { round } = Math;
function cases(rng: Rng, rows: number) {
  const next = fastUniform(rng.int(1, 2 ** 31 - 1));
  const logits = new Float32Array(rows * V);
  for (let r = 0; r < rows; r++)
    for (let i = 0; i < V; i++) {
      const spread = r % 3 === 0 ? 12 : 3;
      logits[r * V + i] = r % 5 === 0 ? round(next() * 4) : (next() - 0.5) * spread;
    }
  return logits;
}

describe.each([
  { vocab: 96, tokenizerVocab: 90, rows: 200, topKs: [5, 1, 7] },
  { vocab: 32000, tokenizerVocab: 31990, rows: 32, topKs: [50, 1, 40] },
  { vocab: 151936, tokenizerVocab: 151665, rows: 8, topKs: [20, 1, 200000] },
])('the in-graph draw (decode-steps graph), vocabulary $vocab', ({ vocab, tokenizerVocab, rows, topKs }) => {
  beforeAll(() => {
    V = vocab;
    TOKENIZER_VOCAB = tokenizerVocab;
  });
  for (const [temperature, topK] of [
    [0.7, 0],
    [1, 0],
    [1.3, topKs[0]],
    [0.5, topKs[1]],
    [0, 0],
    [0, topKs[2]],
  ] as const)
    it(`picks the host's token and log-probability (T ${temperature}, top-k ${topK})`, async () => {
      const session = await drawSession(topK > 0);
      const rng = new Rng(temperature * 100 + topK);
      const logits = cases(rng, rows);
      const uniforms = new Float64Array(rows);
      for (let r = 0; r < rows; r++) {
        if (temperature === 0) uniforms[r] = -1;
        else if (r % 4 === 1)
          // On a boundary of the running sum (u·total lands on it or within rounding of it).
          uniforms[r] = Math.min(
            boundary(processed(logits.subarray(r * V, (r + 1) * V), temperature, topK), r),
            1 - 2 ** -53,
          );
        else uniforms[r] = r % 7 === 0 ? 0 : rng.next();
      }
      const feeds: Record<string, ort.Tensor> = {
        logits: new ort.Tensor('float32', logits, [rows, V]),
        u: new ort.Tensor('float64', uniforms, [rows, 1]),
        inverse_temperature: new ort.Tensor(
          'float64',
          Float64Array.of(temperature > 0 ? 1 / temperature : 1),
          [],
        ),
      };
      // As the sampler feeds it: TopK's k is at most the vocabulary.
      if (topK > 0) feeds.top_k = new ort.Tensor('int64', BigInt64Array.of(BigInt(Math.min(topK, V))), [1]);
      const out = await session.run(feeds);
      const token = out.token.data as Float32Array;
      const chosen = out.chosen.data as Float32Array;
      const max = out.max.data as Float32Array;
      const total = out.total.data as Float64Array;
      let onBoundary = 0;
      for (let r = 0; r < rows; r++) {
        const l = processed(logits.subarray(r * V, (r + 1) * V), temperature, topK);
        const host = chooseToken(l, temperature === 0 ? null : uniforms[r]);
        expect(token[r]).toBeLessThan(TOKENIZER_VOCAB);
        const placed = temperature > 0 && r % 4 === 1;
        if (token[r] !== host.tokenId) {
          // Only allowed where the uniform sits on the boundary between the two tokens.
          const { cum, total } = runningSum(l);
          const between = cum[Math.min(token[r], host.tokenId)];
          expect([r, 'placed on a boundary']).toEqual([r, placed ? 'placed on a boundary' : 'random']);
          expect(Math.abs(between - uniforms[r] * total) / total).toBeLessThan(1e-12);
          onBoundary++;
          continue;
        }
        const logprob = temperature === 0 ? -Math.log(total[r]) : chosen[r] - max[r] - Math.log(total[r]);
        expect(logprob).toBeCloseTo(host.logprob, 12);
      }
      // Of the uniforms placed on boundaries (a quarter of the rows), most still agree.
      expect(onBoundary).toBeLessThan(Math.max(3, (rows / 4) * 0.3));
      await session.release();
    });
});

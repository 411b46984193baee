import { Rng, deriveSeed } from '../../../base/rng';
import { chooseToken } from '../../../engine/generate/choose-token';
import {
  buildLogitsProcessors,
  eos,
  maxLength,
  minP,
  repetitionPenalty,
  temperature,
  topK,
  topP,
  untokenizable,
  type LogitsProcessor,
} from '../../../engine/generate/processors';
import { kthLargest } from '../../../engine/generate/processors/select';

const FIXED = [2.0, 1.5, 1.2, 1.0, 0.5, 0.0, -0.5, -1.0, -2.0, -3.0, 0.5, 1.2];
const noHistory = { promptIds: [], completionIds: [] };

function run(processors: LogitsProcessor[], logits: readonly number[]): Float32Array {
  const x = Float32Array.from(logits);
  for (const p of processors) p.apply(x, noHistory);
  return x;
}

function softmax(x: ArrayLike<number>): number[] {
  const max = Math.max(...Array.from(x));
  const w = Array.from(x, (v) => (v === -Infinity ? 0 : Math.exp(v - max)));
  const s = w.reduce((a, b) => a + b, 0);
  return w.map((v) => v / s);
}

/** Reference nucleus by full sort (probability desc, id asc): the independent check of topP. */
function referenceTopP(probs: number[], p: number): Set<number> {
  const order = probs.map((_, i) => i).sort((a, b) => probs[b] - probs[a] || a - b);
  const kept = new Set<number>();
  let mass = 0;
  for (const i of order) {
    if (mass >= p - 1e-12) break;
    kept.add(i);
    mass += probs[i];
  }
  return kept;
}

/** Upper 0.1% point of chi-square with df degrees of freedom (Wilson-Hilferty). */
function chiSquareCritical(df: number): number {
  const z = 3.090232;
  return df * (1 - 2 / (9 * df) + z * Math.sqrt(2 / (9 * df))) ** 3;
}

function drawCounts(processors: LogitsProcessor[], logits: readonly number[], draws: number, seed: string) {
  const rng = new Rng(deriveSeed(seed));
  const counts = new Array<number>(logits.length).fill(0);
  for (let i = 0; i < draws; i++) counts[chooseToken(run(processors, logits), rng.next()).tokenId]++;
  return counts;
}

function chiSquare(counts: number[], expected: number[], draws: number): { stat: number; df: number } {
  let stat = 0;
  let df = -1;
  counts.forEach((c, i) => {
    if (expected[i] === 0) {
      expect(c).toBe(0);
      return;
    }
    const e = expected[i] * draws;
    stat += (c - e) ** 2 / e;
    df++;
  });
  return { stat, df };
}

describe('logits processors', () => {
  it('temperature divides logits and rejects T <= 0', () => {
    expect(Array.from(run([temperature(0.5)], [1, -2, 0]))).toEqual([2, -4, 0]);
    expect(() => temperature(0)).toThrow(RangeError);
    expect(() => temperature(-1)).toThrow(/temperature/);
    expect(() => temperature(NaN)).toThrow(RangeError);
  });

  it('top-k keeps the k highest (ties with the k-th all kept) and rejects bad k', () => {
    const x = run([topK(3)], FIXED);
    // 2.0, 1.5, then 1.2 twice (tied third): four survive.
    expect(Array.from(x).map((v) => v !== -Infinity)).toEqual([
      true,
      true,
      true,
      false,
      false,
      false,
      false,
      false,
      false,
      false,
      false,
      true,
    ]);
    expect(Array.from(run([topK(100)], FIXED))).toEqual(Array.from(Float32Array.from(FIXED)));
    expect(() => topK(0)).toThrow(RangeError);
    expect(() => topK(2.5)).toThrow(/top-k/);
  });

  it('kthLargest agrees with sorting on random vectors', () => {
    const rng = new Rng(7);
    for (let t = 0; t < 200; t++) {
      const n = rng.int(1, 300);
      const v = Float32Array.from({ length: n }, () => Math.round(rng.next() * 20) / 4);
      const sorted = Array.from(v).sort((a, b) => b - a);
      const k = rng.int(1, n);
      expect(kthLargest(v.slice(), n, k)).toBe(sorted[k - 1]);
    }
  });

  it('top-p keeps the smallest most-likely set reaching p, like a full sort would', () => {
    const rng = new Rng(11);
    for (let t = 0; t < 200; t++) {
      const n = rng.int(1, 400);
      // Quantised logits make ties common, which is where selection bugs hide.
      const logits = Array.from({ length: n }, () => Math.round((rng.next() * 8 - 4) * 2) / 2);
      const p = rng.next() * 0.99 + 0.01;
      const kept = referenceTopP(softmax(Float32Array.from(logits)), p);
      const x = run([topP(p)], logits);
      const got = new Set(Array.from(x).flatMap((v, i) => (v === -Infinity ? [] : [i])));
      expect(got).toEqual(kept);
    }
    expect(() => topP(0)).toThrow(RangeError);
    expect(() => topP(1.5)).toThrow(/top-p/);
  });

  it('min-p keeps tokens at least minP times as likely as the top one', () => {
    const x = run([minP(0.5)], FIXED);
    const probs = softmax(Float32Array.from(FIXED));
    const top = Math.max(...probs);
    Array.from(x).forEach((v, i) => expect(v !== -Infinity).toBe(probs[i] >= 0.5 * top));
    expect(() => minP(0)).toThrow(RangeError);
    expect(() => minP(1.1)).toThrow(/min-p/);
  });

  it('repetition penalty divides positive and multiplies negative logits of seen tokens, once each', () => {
    const p = repetitionPenalty(2);
    const x = Float32Array.from([4, -4, 4, -4, 4]);
    p.apply(x, { promptIds: [0, 1, 0], completionIds: [1, 3, 0] });
    expect(Array.from(x)).toEqual([2, -8, 4, -8, 4]);
    // A second call with the same history penalises again from fresh logits, not cumulatively.
    const y = Float32Array.from([4, -4, 4, -4, 4]);
    p.apply(y, { promptIds: [0, 1, 0], completionIds: [1, 3, 0] });
    expect(Array.from(y)).toEqual([2, -8, 4, -8, 4]);
    expect(() => repetitionPenalty(0)).toThrow(RangeError);
    expect(() => repetitionPenalty(Infinity)).toThrow(/repetition penalty/);
  });

  it('removes ids beyond the tokenizer (a padded model vocabulary)', () => {
    expect(Array.from(run([untokenizable(3)], [1, 2, 3, 4, 5]))).toEqual([1, 2, 3, -Infinity, -Infinity]);
    expect(() => untokenizable(0)).toThrow(RangeError);
    const names = (size: number) =>
      buildLogitsProcessors({ temperature: 1, tokenizerVocabSize: size, logitsSize: 5 }).map((p) => p.name);
    expect(names(3)).toEqual(['untokenizable']);
    expect(names(5)).toEqual([]);
  });

  it('builds the list in Hugging Face order and leaves out processors that are off', () => {
    expect(
      buildLogitsProcessors({
        temperature: 0.7,
        topK: 40,
        topP: 0.9,
        minP: 0.05,
        repetitionPenalty: 1.1,
      }).map((p) => p.name),
    ).toEqual(['repetition penalty', 'temperature', 'top-k', 'top-p', 'min-p']);
    expect(
      buildLogitsProcessors({ temperature: 0, topK: 0, topP: 1, minP: 0, repetitionPenalty: 1 }),
    ).toEqual([]);
    expect(() => buildLogitsProcessors({ temperature: -0.1 })).toThrow(RangeError);
    expect(() => buildLogitsProcessors({ temperature: 1, topK: -1 })).toThrow(RangeError);
  });
});

describe('stopping criteria', () => {
  it('eos stops on any of its ids', () => {
    const s = eos([2, 7]).start([]);
    expect([s.push(5), s.push(7), s.push(2)]).toEqual([null, 'eos', 'eos']);
    expect(() => eos([-1])).toThrow(RangeError);
  });

  it('max length stops after maxNewTokens, or at the model position limit', () => {
    const s = maxLength(3).start([1, 2]);
    expect([s.push(0), s.push(0), s.push(0)]).toEqual([null, null, 'length']);
    const limited = maxLength(10, 5).start([1, 2, 3]);
    expect([limited.push(0), limited.push(0)]).toEqual([null, 'length']);
    expect(() => maxLength(1, 3).start([1, 2, 3])).toThrow(/at most 3 positions/);
    expect(() => maxLength(0)).toThrow(RangeError);
    expect(() => maxLength(1.5)).toThrow(/maxNewTokens/);
  });
});

describe('chooseToken', () => {
  it('greedy takes the argmax (lower id on ties) with its temperature-1 log-probability', () => {
    const x = Float32Array.from([0, 3, 1, 3]);
    const c = chooseToken(x, null);
    expect(c.tokenId).toBe(1);
    expect(c.logprob).toBeCloseTo(Math.log(softmax(x)[1]), 6);
  });

  it('reports the log-probability under the processed distribution', () => {
    const x = run([temperature(0.5), topK(2)], [1, 2, 0, 3]);
    const probs = softmax(x);
    for (const u of [0, 0.3, 0.99]) {
      const c = chooseToken(x.slice(), u);
      expect(probs[c.tokenId]).toBeGreaterThan(0);
      expect(c.logprob).toBeCloseTo(Math.log(probs[c.tokenId]), 6);
    }
  });

  it('refuses logits with nothing finite, or with NaN', () => {
    expect(() => chooseToken(Float32Array.from([-Infinity, NaN]), 0.5)).toThrow(/no finite logit/);
    expect(() => chooseToken(Float32Array.from([1, NaN, 0]), 0.5)).toThrow(/NaN/);
    expect(() => chooseToken(Float32Array.from([1, NaN, 0]), null)).toThrow(/NaN/);
  });

  const DRAWS = 40_000;
  const cases: [string, LogitsProcessor[], (l: number[]) => number[]][] = [
    ['temperature 0.7', [temperature(0.7)], (l) => softmax(l.map((v) => v / 0.7))],
    [
      'temperature 0.8 + top-k 4',
      [temperature(0.8), topK(4)],
      (l) => {
        const t = l.map((v) => v / 0.8);
        const kth = [...t].sort((a, b) => b - a)[3];
        return softmax(t.map((v) => (v >= kth ? v : -Infinity)));
      },
    ],
    [
      'top-p 0.7',
      [topP(0.7)],
      (l) => {
        const probs = softmax(l);
        const kept = referenceTopP(probs, 0.7);
        return softmax(l.map((v, i) => (kept.has(i) ? v : -Infinity)));
      },
    ],
    [
      'temperature 1.3 + top-p 0.9 + min-p 0.1',
      [temperature(1.3), topP(0.9), minP(0.1)],
      (l) => {
        const t = l.map((v) => v / 1.3);
        const kept = referenceTopP(softmax(t), 0.9);
        const cut = t.map((v, i) => (kept.has(i) ? v : -Infinity));
        const top = Math.max(...cut);
        return softmax(cut.map((v) => (v >= top + Math.log(0.1) ? v : -Infinity)));
      },
    ],
  ];
  it.each(cases)(
    'sampling frequencies match the processed distribution: %s (chi-square, seeded)',
    (name, procs, ref) => {
      const expected = ref(FIXED);
      const counts = drawCounts(procs, FIXED, DRAWS, name);
      const { stat, df } = chiSquare(counts, expected, DRAWS);
      expect(df).toBeGreaterThan(0);
      expect(stat).toBeLessThan(chiSquareCritical(df));
    },
  );
});

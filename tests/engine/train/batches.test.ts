import { mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  MAX_AUTO_SEQ_LEN,
  autoSeqLen,
  BEST_FIT_WINDOW,
  DataPlan,
  FineTuneConfig,
  buildMicroBatch,
  learningRateAt,
  packRows,
  readExamples,
  tokenizeExamples,
} from '../../../engine/train';
import { buildCharTokenizerFiles, loadTokenizer } from '../../../engine/tokenizer';
import { isBadInputError } from '../../../base/errors';

function charTokenizer() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lmsi-tok-'));
  const files = buildCharTokenizerFiles();
  writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(files.tokenizerJson));
  writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(files.tokenizerConfig));
  return loadTokenizer(dir);
}

const tok = charTokenizer();

describe('fine-tuning data', () => {
  test('prompt gets BOS, completion gets EOS; a too-long prompt is cut from the left, a too-long completion dropped', () => {
    const t = tokenizeExamples(
      [
        { prompt: 'ab', completion: 'cd' },
        { prompt: 'x', completion: 'yyyyyyyyyy' },
        { prompt: 'pppppppppppp', completion: 'q' },
      ],
      tok,
      8,
    );
    expect(t.sequences[0].ids).toEqual([tok.bosId, ...tok.encode('abcd'), tok.eosId]);
    expect(t.sequences[0].promptLen).toBe(3);
    // BOS + 12 prompt tokens + q + EOS is 15 tokens: the 6 leftmost go, the completion stays whole.
    expect(t.sequences[1].ids).toEqual([...tok.encode('ppppppp'), ...tok.encode('q'), tok.eosId]);
    expect(t.sequences[1].ids).toHaveLength(9); // seqLen + 1: the last token is only a target
    expect(t.sequences[1].promptLen).toBe(7);
    expect(t.truncated).toBe(1);
    expect(t.skipped).toBe(1); // 10 completion tokens + EOS do not fit 9 with a prompt token before them
    expect(t.sequences).toHaveLength(2);
  });

  test('the packing length by default: the longest example rounded up to 64, capped at 1024 and the context', () => {
    const seq = (n: number) => ({ ids: new Array<number>(n + 1).fill(1), promptLen: 1 });
    expect(autoSeqLen([seq(10), seq(70)], 8192)).toBe(128);
    expect(autoSeqLen([seq(64)], 8192)).toBe(64);
    expect(autoSeqLen([seq(5000)], 32768)).toBe(MAX_AUTO_SEQ_LEN);
    expect(autoSeqLen([seq(300)], 256)).toBe(256);
  });

  test('the loss mask covers exactly the completion and EOS; packed examples restart positions', () => {
    const { sequences } = tokenizeExamples(
      [
        { prompt: 'Q1', completion: 'A' },
        { prompt: 'Q22', completion: 'BB' },
        { prompt: 'Q', completion: 'CCCC' },
      ],
      tok,
      12,
    );
    const rows = packRows([0, 1, 2], sequences, 12, true);
    expect(rows).toEqual([[0, 1], [2]]); // widths 4 + 6 fit in 12; the third (6) does not
    const mb = buildMicroBatch(rows, sequences, 3, 12, tok.padId);
    const T = 12;
    const at = (row: number, from: number, to: number, a: ArrayLike<bigint | number>) =>
      Array.from({ length: to - from }, (_, i) => Number(a[row * T + from + i]));
    // Row 0: [BOS Q 1 A] [BOS Q 2 2 B B], targets shifted within each example.
    expect(tok.decode(at(0, 0, 10, mb.inputIds), { skipSpecial: false })).toBe('<s>Q1A<s>Q22BB');
    expect(at(0, 0, 12, mb.positionIds)).toEqual([0, 1, 2, 3, 0, 1, 2, 3, 4, 5, 0, 0]);
    expect(at(0, 10, 12, mb.inputIds)).toEqual([tok.padId, tok.padId]);
    expect(at(0, 0, 12, mb.segmentIds)).toEqual([1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 0, 0]);
    const masked = (row: number) =>
      Array.from({ length: T }, (_, j) => j)
        .filter((j) => mb.lossMask[row * T + j] === 1)
        .map((j) => Number(mb.targets[row * T + j]));
    expect(tok.decode(masked(0), { skipSpecial: false })).toBe('A</s>BB</s>');
    expect(tok.decode(masked(1), { skipSpecial: false })).toBe('CCCC</s>');
    expect(masked(2)).toEqual([]); // padding row
    expect(mb.lossTokens).toBe(2 + 3 + 5);
    expect(mb.tokens).toBe(4 + 6 + 6);
    // Without packing every example has its own row.
    expect(packRows([2, 0, 1], sequences, 12, false)).toEqual([[2], [0], [1]]);
  });

  test('the data order is a pure function of (seed, epoch) and covers every example once per epoch', () => {
    const examples = Array.from({ length: 30 }, (_, i) => ({ prompt: `q${i}`, completion: `a${i % 7}` }));
    const { sequences } = tokenizeExamples(examples, tok, 16);
    const opts = { seed: 5, batchSize: 2, gradientAccumulation: 2, seqLen: 16, packing: true };
    const a = new DataPlan(sequences, opts);
    const b = new DataPlan(sequences, opts);
    expect(b.rows(3)).toEqual(a.rows(3));
    expect(a.rows(1)).toEqual(b.rows(1)); // asking in another order changes nothing
    expect(a.rows(0)).not.toEqual(a.rows(1));
    expect(new DataPlan(sequences, { ...opts, seed: 6 }).rows(0)).not.toEqual(a.rows(0));
    for (const e of [0, 1, 2])
      expect(
        a
          .rows(e)
          .flat()
          .sort((x, y) => x - y),
      ).toEqual(sequences.map((_, i) => i));
    const steps = a.stepsInEpoch(0);
    expect(steps).toBe(Math.ceil(a.rows(0).length / 4));
    const last = a.microBatches(0, steps - 1, tok.padId);
    expect(last.length).toBeGreaterThanOrEqual(1);
    expect(last.length).toBeLessThanOrEqual(2);
  });

  test('best-fit packs mixed lengths into fewer, fuller rows, each example once, order kept within windows', () => {
    // Long and short examples alternate, as few-shot CoT and zero-shot direct do in a training set:
    // widths 10 and 5 in rows of 16. Best-fit puts one short beside each long; next-fit, taking
    // them in shuffled order, often closes a row on a long that finds another long after it.
    const examples = Array.from({ length: 3000 }, (_, i) =>
      i % 2 === 0 ? { prompt: 'Qlong', completion: 'AAAA' } : { prompt: 'Q12', completion: 'A' },
    );
    const { sequences } = tokenizeExamples(examples, tok, 16);
    expect(new Set(sequences.map((s) => s.ids.length - 1))).toEqual(new Set([10, 5]));
    const opts = { seed: 7, batchSize: 4, gradientAccumulation: 1, seqLen: 16 };
    const nextFit = new DataPlan(sequences, { ...opts, packing: 'next-fit' });
    const bestFit = new DataPlan(sequences, { ...opts, packing: 'best-fit' });
    const legacy = new DataPlan(sequences, { ...opts, packing: true });
    expect(legacy.rows(0)).toEqual(nextFit.rows(0)); // `true` is next-fit, as saved checkpoints say
    const used = (row: number[]) => row.reduce((n, i) => n + sequences[i].ids.length - 1, 0);
    for (const e of [0, 1]) {
      const rows = bestFit.rows(e);
      expect(rows.flat().sort((x, y) => x - y)).toEqual(sequences.map((_, i) => i));
      for (const row of rows) expect(used(row)).toBeLessThanOrEqual(16);
      // About one row per long, with its short (15 of 16 positions used); a window with more shorts
      // than longs puts three shorts in a row.
      expect(rows.length).toBeGreaterThanOrEqual(1500);
      expect(rows.length).toBeLessThan(1530);
      expect(nextFit.rows(e).length).toBeGreaterThan(rows.length * 1.1);
    }
    // An example moves only within its window of the epoch's shuffled order.
    const order = new Map<number, number>();
    nextFit
      .rows(0)
      .flat()
      .forEach((ex, at) => order.set(ex, at));
    bestFit.rows(0).forEach((row) => {
      const windows = new Set(row.map((ex) => Math.floor(order.get(ex)! / BEST_FIT_WINDOW)));
      expect(windows.size).toBe(1);
    });
    // A pure function of (seed, epoch), and the rows of a window are shuffled, not longest first.
    expect(new DataPlan(sequences, { ...opts, packing: 'best-fit' }).rows(1)).toEqual(bestFit.rows(1));
    expect(bestFit.rows(0)).not.toEqual(bestFit.rows(1));
    const firstRows = bestFit.rows(0).slice(0, 50).map(used);
    expect(new Set(firstRows).size).toBeGreaterThan(1);
    expect(() => packRows([0], sequences, 16, 'best-fit')).toThrow(/needs an Rng/);
    expect(FineTuneConfig.parse({ epochs: 1, learningRate: 1, batchSize: 1, seed: 1 }).packing).toBe(true);
  });

  test('warmup is linear, then cosine from the peak to minLearningRateRatio at the last step', () => {
    const s = { learningRate: 1e-3, warmupSteps: 4, minLearningRateRatio: 0.1, totalSteps: 14 };
    expect([1, 2, 3, 4].map((k) => learningRateAt(k, s))).toEqual([2.5e-4, 5e-4, 7.5e-4, 1e-3]);
    expect(learningRateAt(5, s)).toBeCloseTo(1e-3, 12);
    expect(learningRateAt(14, s)).toBeCloseTo(1e-4, 12);
    expect(learningRateAt(9.5, s)).toBeCloseTo(5.5e-4, 12); // halfway down the cosine
    for (let k = 5; k < 14; k++) expect(learningRateAt(k + 1, s)).toBeLessThan(learningRateAt(k, s));
    expect(learningRateAt(1, { ...s, warmupSteps: 0, totalSteps: 1 })).toBe(1e-3);
  });

  test('JSONL examples are validated line by line; configs say which field is wrong', () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'lmsi-jsonl-')), 'train.jsonl');
    writeFileSync(
      file,
      '{"prompt":"a","completion":"b","format":"zero-shot-cot"}\n\n{"prompt":"c","completion":"d"}\n',
    );
    expect(readExamples(file)).toEqual([
      { prompt: 'a', completion: 'b' },
      { prompt: 'c', completion: 'd' },
    ]);
    const bad = (text: string, message: RegExp) => {
      writeFileSync(file, text);
      let caught: unknown;
      try {
        readExamples(file);
      } catch (e) {
        caught = e;
      }
      expect(isBadInputError(caught)).toBe(true);
      expect((caught as Error).message.slice(file.length)).toMatch(message);
    };
    bad('{"prompt":"a","completion":"b"}\n{"prompt":"a"}\n', /^:2: completion: .*expected string/);
    bad('{"prompt":"a","completion":"b"}\n\n{oops\n', /^:3: \(json\): /);
    bad('{"prompt":"a","completion":""}', /^:1: completion: Too small/);
    bad('\n', /^: \(file\): no examples$/);
    const both = FineTuneConfig.safeParse({
      steps: 3,
      epochs: 1,
      learningRate: 1,
      batchSize: 1,
      seed: 1,
    });
    expect(both.error?.issues[0].path).toEqual(['steps']);
  });
});

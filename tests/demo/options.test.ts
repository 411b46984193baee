import * as os from 'node:os';
import { ablationVariants, markdownTable, mergeRows } from '../../bench/ablations';
import { demoCampaignConfig, DEMO_FORMATS, parseDemoArgs, QUICK_FORMATS } from '../../demo/options';
import { seedExamples, type ArithBaseModel } from '../../embedded';
import { calibrationMonotone, coarseCalibration } from '../../demo/results';
import { arith } from '../../method/tasks/arith';
import type { Question } from '../../method/types';
import { trainingForRound } from '../../workflows/round-rules';

const base: ArithBaseModel = {
  dir: '/m',
  modelDir: '/m/model',
  data: {
    train: '/m/data/train.jsonl',
    unlabeled: '/m/data/unlabeled.jsonl',
    eval: '/m/data/eval.jsonl',
    seedExamples: '/m/data/seed-examples.jsonl',
    exemplars: '/m/data/exemplars.jsonl',
  },
};

describe('demo options and campaign config', () => {
  it('defaults to the measured recipe: m 16, T 0.7, a pool of 1 000, minConfidence 0.7, 8 paths a question', () => {
    const o = parseDemoArgs([]);
    expect(o).toMatchObject({
      m: 16,
      temperature: 0.7,
      minConfidence: 0.7,
      maxPerQuestion: 8,
      pool: 1000,
      rounds: 2,
      formats: DEMO_FORMATS,
    });
    const c = demoCampaignConfig(base, o, 1, '/tmp/a');
    expect(c.training).toMatchObject({ epochs: 3, learningRate: 1e-3, replayRatio: 0.5 });
    expect(c.training.steps).toBeUndefined();
    expect(c.training.packing).toBe('best-fit');
    expect(c.filtering).toMatchObject({ minConfidence: 0.7, maxPerQuestion: 8 });
    expect(c.sampling).toMatchObject({ m: 16, temperature: 0.7, prompt: 'zero-shot-cot' });
    // Longer than the longest terse 4-step rationale (~125 characters).
    expect(c.sampling.maxNewTokens).toBeGreaterThanOrEqual(150);
    expect(c.data.replayExamples).toBe(base.data.seedExamples);
    // All four formats: the few-shot ones take their exemplar from the seed set.
    expect(c.formats).toEqual(['few-shot-cot', 'few-shot-direct', 'zero-shot-cot', 'zero-shot-direct']);
    expect(c.data.exemplars).toBe(base.data.exemplars);
  });

  it('trains round 1 for 3 epochs and later rounds for 1, at lr 1e-3 (training.fromRound)', () => {
    const c = demoCampaignConfig(base, parseDemoArgs([]), 1, '/tmp/a');
    expect(c.training).toMatchObject({ epochs: 3, learningRate: 1e-3, fromRound: { 2: { epochs: 1 } } });
    expect(trainingForRound(c.training, 1)).toMatchObject({ epochs: 3, learningRate: 1e-3 });
    expect(trainingForRound(c.training, 2)).toMatchObject({ epochs: 1, learningRate: 1e-3 });
    expect(trainingForRound(c.training, 3)).toMatchObject({ epochs: 1 });
  });

  it('--epochs, --later-epochs and --learning-rate change them; equal epochs need no fromRound', () => {
    const c = demoCampaignConfig(
      base,
      parseDemoArgs(['--epochs', '3', '--later-epochs', '3', '--learning-rate', '3e-4']),
      1,
      '/tmp/a',
    );
    expect(c.training).toMatchObject({ epochs: 3, learningRate: 3e-4 });
    expect(c.training.fromRound).toBeUndefined();
    expect(trainingForRound(c.training, 2)).toMatchObject({ epochs: 3, learningRate: 3e-4 });
    const later = demoCampaignConfig(
      base,
      parseDemoArgs(['--epochs', '2', '--later-epochs', '2']),
      1,
      '/tmp/a',
    );
    expect(trainingForRound(later.training, 1)).toMatchObject({ epochs: 2 });
    expect(trainingForRound(later.training, 2)).toMatchObject({ epochs: 2 });
    expect(later.training.fromRound).toBeUndefined();
    const hybrid = demoCampaignConfig(
      base,
      parseDemoArgs([
        '--epochs',
        '3',
        '--learning-rate',
        '3e-4',
        '--later-epochs',
        '1',
        '--later-learning-rate',
        '1e-3',
      ]),
      1,
      '/tmp/a',
    );
    expect(trainingForRound(hybrid.training, 1)).toMatchObject({ epochs: 3, learningRate: 3e-4 });
    expect(trainingForRound(hybrid.training, 2)).toMatchObject({ epochs: 1, learningRate: 1e-3 });
    expect(parseDemoArgs(['--learning-rate', '5e-4']).laterLearningRate).toBe(5e-4);
    expect(() => parseDemoArgs(['--later-epochs', '0'])).toThrow(/laterEpochs/);
    expect(() => parseDemoArgs(['--learning-rate', '-1'])).toThrow(/learningRate/);
  });

  it('--quick trains the two zero-shot formats (its model has no room for an exemplar)', () => {
    const o = parseDemoArgs(['--quick']);
    expect(o.formats).toEqual(QUICK_FORMATS);
    expect(demoCampaignConfig(base, o, 1, '/tmp/a').data.exemplars).toBeUndefined();
    expect(parseDemoArgs(['--quick', '--formats', 'zero-shot-cot']).formats).toEqual(['zero-shot-cot']);
  });

  it('runs one accelerator worker per core by default, and as many shards at a time as workers', () => {
    const o = parseDemoArgs([]);
    expect(o.workers).toBe(Math.max(1, os.cpus().length));
    expect(demoCampaignConfig(base, o, 1, '/tmp/a').sampling.maxConcurrentShards).toBe(o.workers);
    const one = parseDemoArgs(['--workers', '1']);
    expect(one.workers).toBe(1);
    expect(demoCampaignConfig(base, one, 1, '/tmp/a').sampling.maxConcurrentShards).toBe(1);
    expect(() => parseDemoArgs(['--workers', '0'])).toThrow(/workers/);
  });

  it('takes formats and minConfidence from flags; few-shot formats get the one-exemplar file', () => {
    const o = parseDemoArgs([
      '--formats',
      'few-shot-cot,zero-shot-cot',
      '--min-confidence',
      '0.8',
      '--m',
      '4',
    ]);
    const c = demoCampaignConfig(base, o, 2, '/tmp/a', 'ablation');
    expect(c.formats).toEqual(['few-shot-cot', 'zero-shot-cot']);
    expect(c.filtering.minConfidence).toBe(0.8);
    expect(c.data.exemplars).toBe(base.data.exemplars);
    expect(c.name).toMatch(/^ablation-\d+-seed-2$/);
    expect(() => parseDemoArgs(['--formats', 'few-shot'])).toThrow(/formats/);
    expect(
      demoCampaignConfig(base, parseDemoArgs(['--max-per-question', 'all']), 1, '/a').filtering
        .maxPerQuestion,
    ).toBeUndefined();
    expect(parseDemoArgs(['--quick'])).toMatchObject({ minConfidence: 0.5, maxPerQuestion: 4, m: 4 });
    expect(parseDemoArgs(['--quick']).pool).toBeUndefined();
    expect(parseDemoArgs(['--pool', '300']).pool).toBe(300);
    expect(() => parseDemoArgs(['--min-confidence', '2'])).toThrow(/minConfidence/);
  });
});

describe('seed examples', () => {
  const qs: Question[] = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => ({
    id: `q${i}`,
    text: `ann has ${i} pens, buys 1. how many now?`,
    gold: [String(i + 1)],
    rationale: `buys 1: ${i}+1=${i + 1}.`,
    source: { file: 'seed.jsonl', line: i + 1 },
  }));

  it('every question gets a CoT example under the CoT prompt; directFraction of them a direct one', () => {
    const all = seedExamples(arith, qs);
    expect(all).toHaveLength(16);
    const quarter = seedExamples(arith, qs, { directFraction: 0.25 });
    const direct = quarter.filter((e) => !e.prompt.includes("Let's think step by step."));
    expect(quarter.filter((e) => e.prompt.includes("Let's think step by step."))).toHaveLength(8);
    expect(direct).toHaveLength(2);
    // Spread evenly: the 4th and the 8th question.
    expect(direct.map((e) => e.completion)).toEqual([' The answer is 4.', ' The answer is 8.']);
  });
});

describe('ablation grid', () => {
  it("moves one axis at a time over the issue's values", () => {
    const v = ablationVariants(['formats', 'm', 'minConfidence', 'temperature']);
    expect(v.filter((x) => x.axis === 'm').map((x) => x.change.m)).toEqual([4, 8, 16, 32]);
    expect(v.filter((x) => x.axis === 'minConfidence').map((x) => x.change.minConfidence)).toEqual([
      0, 0.5, 0.8,
    ]);
    expect(v.filter((x) => x.axis === 'temperature').map((x) => x.change.temperature)).toEqual([0.5, 0.7, 1]);
    expect(v.find((x) => x.label === 'all four')?.change.formats).toHaveLength(4);
    expect(v.find((x) => x.label === 'CoT only')?.change.formats).toEqual(['few-shot-cot', 'zero-shot-cot']);
    expect(v.find((x) => x.label === 'direct only')?.change.formats).toEqual([
      'few-shot-direct',
      'zero-shot-direct',
    ]);
  });

  it('writes a markdown row per variant with the gains in points', () => {
    const rounds = [
      {
        round: 0,
        greedyAccuracy: 0.4,
        scAccuracy: 0.5,
        keptPaths: null,
        meanKeptConfidence: null,
        promoted: true,
        wallSeconds: 1,
        calibration: [],
      },
      {
        round: 1,
        greedyAccuracy: 0.5,
        scAccuracy: 0.55,
        keptPaths: 800,
        meanKeptConfidence: 0.8,
        promoted: true,
        wallSeconds: 2,
        calibration: [],
      },
    ];
    const md = markdownTable([
      {
        axis: 'm',
        variant: 'm = 4',
        m: 4,
        temperature: 0.7,
        minConfidence: 0.5,
        formats: DEMO_FORMATS,
        rounds,
        greedyGain: 10,
        scGain: 5,
        campaignId: 'x',
      },
    ]);
    expect(md.split('\n')[2]).toBe('| m | m = 4 | 40.0 → 50.0 | 50.0 → 55.0 | +10.0 | +5.0 | 800 | 2 |');
  });

  it('keeps the rows of an earlier run of the same grid that this run does not redo, in grid order', () => {
    const r = (axis: 'm' | 'minConfidence', variant: string, campaignId: string) => ({
      axis,
      variant,
      m: 16,
      temperature: 0.7,
      minConfidence: 0.7,
      formats: DEMO_FORMATS,
      rounds: [],
      greedyGain: null,
      scGain: null,
      campaignId,
    });
    const header = { recipe: 'demo-arith-v2', seed: 1, rounds: 1, defaults: { m: 16 } };
    const earlier = {
      ...header,
      rows: [r('m', 'm = 4', 'old'), r('minConfidence', 'minConfidence 0', 'old')],
    };
    const now = [r('minConfidence', 'minConfidence 0', 'new'), r('m', 'm = 8', 'new')];
    expect(mergeRows(earlier, header, now).map((x) => `${x.variant}:${x.campaignId}`)).toEqual([
      'm = 4:old',
      'm = 8:new',
      'minConfidence 0:new',
    ]);
    // Another grid (here another seed): its rows are not mixed in.
    expect(mergeRows({ ...earlier, seed: 2 }, header, now).map((x) => x.campaignId)).toEqual(['new', 'new']);
    expect(mergeRows(null, header, now)).toHaveLength(2);
  });
});

describe('calibration check', () => {
  const bin = (lo: number, questions: number, accuracy: number) => ({
    lo,
    hi: lo + 0.1,
    questions,
    accuracy,
  });
  it('passes when higher-confidence bins are at least as accurate, ignoring bins under the minimum', () => {
    expect(
      calibrationMonotone([bin(0.3, 20, 0.2), bin(0.5, 30, 0.5), bin(0.6, 3, 0.1), bin(0.9, 40, 0.5)]),
    ).toBe(true);
    expect(calibrationMonotone([])).toBe(true);
  });
  it('merges bins to 0.2 wide, weighting accuracy by questions, for the coarse check', () => {
    const coarse = coarseCalibration([bin(0.2, 10, 0.5), bin(0.3, 30, 0.3), bin(0.9, 20, 0.8)]);
    expect(coarse).toHaveLength(2);
    expect(coarse[0]).toMatchObject({ questions: 40 });
    expect(coarse[0].lo).toBeCloseTo(0.2);
    expect(coarse[0].accuracy).toBeCloseTo(0.35);
    expect(coarse[1]).toMatchObject({ questions: 20, accuracy: 0.8 });
    expect(coarse[1].lo).toBeCloseTo(0.8);
    // Noisy at 0.1 (0.45 then 0.38), monotone at 0.2.
    const fine = [bin(0.2, 11, 0.45), bin(0.3, 39, 0.38), bin(0.4, 24, 0.58), bin(0.5, 42, 0.52)];
    expect(calibrationMonotone(fine)).toBe(false);
    expect(calibrationMonotone(coarseCalibration(fine))).toBe(true);
  });

  it('fails when a populated higher bin is less accurate', () => {
    expect(calibrationMonotone([bin(0.3, 20, 0.6), bin(0.5, 30, 0.5)])).toBe(false);
  });
});

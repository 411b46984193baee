import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { machine } from '../testing/machine';
import type { RoundStepName } from '../client';
import type { CampaignStop, RoundSummary } from '../contract';
import type { ArithBaseModel, ArithRecipe } from '../embedded';
import { demoCampaignConfig, type DemoOptions } from './options';

export interface DemoRound {
  round: number;
  greedyAccuracy: number | null;
  scAccuracy: number;
  keptPaths: number | null;
  meanKeptConfidence: number | null;
  promoted: boolean;
  wallSeconds: number;
  /** Where the round's wall time went, per step (client/step-times.ts; absent in older results). */
  stepSeconds?: Partial<Record<RoundStepName, number>>;
  /** Optimiser steps of the round's fine-tuning (null: round 0, or nothing was kept). */
  trainingSteps?: number | null;
  /** The evaluation's calibration: questions binned by the confidence of their majority answer. */
  calibration: { lo: number; hi: number; questions: number; accuracy: number }[];
  /** Label-free health of the round's samples and of its evaluated model's (absent in older results). */
  health?: RoundSummary['health'];
}

/** Bins with fewer questions than this are left out of the monotonicity check (too noisy to rank). */
export const CALIBRATION_MIN_BIN = 10;

/**
 * The calibration goal: higher-confidence bins at least as accurate as lower ones, over the
 * bins holding at least CALIBRATION_MIN_BIN questions.
 */
export function calibrationMonotone(bins: DemoRound['calibration']): boolean {
  const big = bins.filter((b) => b.questions >= CALIBRATION_MIN_BIN);
  return big.every((b, i) => i === 0 || b.accuracy >= big[i - 1].accuracy);
}

/**
 * The same bins merged to `width` (0.2: five bins). With 200 evaluation questions a 0.1-wide bin holds
 * 10–40 questions, so one question moves its accuracy by 3–10 points and neighbours swap by noise;
 * the coarse check asks whether confidence ranks accuracy at the resolution the sample supports.
 */
export function coarseCalibration(bins: DemoRound['calibration'], width = 0.2): DemoRound['calibration'] {
  const merged = new Map<number, { lo: number; hi: number; questions: number; correct: number }>();
  for (const b of bins) {
    const k = Math.min(Math.floor(b.lo / width + 1e-9), Math.round(1 / width) - 1);
    const m = merged.get(k) ?? { lo: k * width, hi: (k + 1) * width, questions: 0, correct: 0 };
    m.questions += b.questions;
    m.correct += b.accuracy * b.questions;
    merged.set(k, m);
  }
  return [...merged.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([, m]) => ({ lo: m.lo, hi: m.hi, questions: m.questions, accuracy: m.correct / m.questions }));
}

export interface DemoSeedResult {
  seed: number;
  campaignId: string;
  artifactsDir: string;
  /** The campaign's report.html, materialized from the artifact store (null: the report failed). */
  reportHtml: string | null;
  rounds: DemoRound[];
  /** gate.labelFree stopped the campaign early: where and why. */
  stopped?: CampaignStop;
}

const pp = (x: number) => Math.round(x * 1000) / 10;

/** Mean over seeds of (round r minus round 0), in percentage points; null when no seed has round r. */
function meanGain(seeds: readonly DemoSeedResult[], round: number, key: 'greedyAccuracy' | 'scAccuracy') {
  const gains = seeds.flatMap((s) => {
    const [r0, r] = [s.rounds.find((x) => x.round === 0), s.rounds.find((x) => x.round === round)];
    return r0?.[key] == null || r?.[key] == null ? [] : [pp(r[key]) - pp(r0[key])];
  });
  return gains.length === 0 ? null : Math.round((gains.reduce((a, b) => a + b, 0) / gains.length) * 10) / 10;
}

/** The gains: mean over seeds of round 1 and round 2 minus round 0, in percentage points. */
export function meanGains(seeds: readonly DemoSeedResult[]) {
  return {
    meanGreedyGainRound1: meanGain(seeds, 1, 'greedyAccuracy'),
    meanScGainRound1: meanGain(seeds, 1, 'scAccuracy'),
    meanGreedyGainRound2: meanGain(seeds, 2, 'greedyAccuracy'),
    meanScGainRound2: meanGain(seeds, 2, 'scAccuracy'),
  };
}

export function demoResults(
  recipe: ArithRecipe,
  base: ArithBaseModel,
  options: DemoOptions,
  seeds: DemoSeedResult[],
  totalSeconds: number,
) {
  const config = demoCampaignConfig(base, options, 0, os.tmpdir());
  const built = JSON.parse(readFileSync(path.join(base.dir, 'base-model.json'), 'utf8')) as {
    steps: number;
    tokensSeen: number;
    seconds: number;
    finalLoss: number;
  };
  return {
    machine: machine(),
    date: new Date().toISOString(),
    recipe: recipe.name,
    baseModel: {
      config: recipe.model,
      steps: built.steps,
      tokensSeen: built.tokensSeen,
      trainSeconds: Math.round(built.seconds),
      finalLoss: built.finalLoss,
    },
    campaign: {
      m: config.sampling.m,
      temperature: config.sampling.temperature,
      rounds: config.rounds,
      sampling: config.sampling.prompt,
      formats: config.formats,
      /** Unlabeled questions the rounds sampled (questions only: no label is read by the rounds). */
      unlabeledQuestions: readFileSync(base.data.unlabeled, 'utf8')
        .split('\n')
        .filter((l) => l.trim()).length,
      evaluationQuestions: readFileSync(base.data.eval, 'utf8')
        .split('\n')
        .filter((l) => l.trim()).length,
      minConfidence: config.filtering.minConfidence,
      maxPerQuestion: config.filtering.maxPerQuestion ?? null,
      training: {
        epochs: config.training.epochs ?? null,
        steps: config.training.steps ?? null,
        learningRate: config.training.learningRate,
        batchSize: config.training.batchSize,
        packing: config.training.packing,
        /** Settings that change from a round on (e.g. {"2": {"epochs": 1}}); null: every round the same. */
        fromRound: config.training.fromRound ?? null,
      },
      /** Accelerator workers (one per core by default), each sampling one shard at a time on one thread. */
      acceleratorWorkers: config.sampling.maxConcurrentShards,
      replay: `seed examples, replayRatio ${config.training.replayRatio} (their labels were used only to build the base model)`,
    },
    /** The seeds asked for; fewer in `seeds` while a multi-seed run is still going (or died). */
    seedsPlanned: options.seeds,
    seeds: seeds.map((s) => ({
      ...s,
      rounds: s.rounds.map((r) => ({
        ...r,
        calibrationMonotone: calibrationMonotone(r.calibration),
        coarseCalibrationMonotone: calibrationMonotone(coarseCalibration(r.calibration)),
      })),
    })),
    ...meanGains(seeds),
    totalSeconds: Math.round(totalSeconds),
  };
}
export type DemoResults = ReturnType<typeof demoResults>;

const pct = (x: number | null) => (x === null ? '—' : `${(x * 100).toFixed(1)}%`);

export function resultsTable(r: DemoResults): string {
  const k = r.campaign.m;
  const header = [
    'seed',
    'round',
    'greedy',
    `SC@${k}`,
    'kept paths',
    'mean conf. kept',
    'promoted',
    'wall (s)',
    'sample/train/evaluate (s)',
  ];
  const widths = [5, 6, 8, 8, 11, 15, 9, 9, 0];
  const step = (x: DemoRound, name: RoundStepName) => {
    const sec = x.stepSeconds?.[name];
    return sec === undefined ? '—' : sec.toFixed(0);
  };
  const lines = [header.map((h, i) => h.padEnd(widths[i])).join(' ')];
  for (const s of r.seeds)
    for (const x of s.rounds)
      lines.push(
        [
          String(s.seed).padEnd(5),
          String(x.round).padEnd(6),
          pct(x.greedyAccuracy).padEnd(8),
          pct(x.scAccuracy).padEnd(8),
          String(x.keptPaths ?? '—').padEnd(11),
          pct(x.meanKeptConfidence).padEnd(15),
          (x.promoted ? 'yes' : 'no').padEnd(9),
          x.wallSeconds.toFixed(0).padEnd(9),
          (['sample', 'train', 'evaluate'] as const).map((n) => step(x, n)).join('/'),
        ].join(' '),
      );
  const gain = (g: number | null) => (g === null ? '—' : `${g > 0 ? '+' : ''}${g.toFixed(1)} pp`);
  lines.push(
    '',
    `mean gain after round 1: greedy ${gain(r.meanGreedyGainRound1)}, SC ${gain(r.meanScGainRound1)}`,
    `mean gain after round 2: greedy ${gain(r.meanGreedyGainRound2)}, SC ${gain(r.meanScGainRound2)}`,
    `base model: ${r.baseModel.steps} steps, ${r.baseModel.tokensSeen} tokens, ${r.baseModel.trainSeconds} s; ` +
      `total ${r.totalSeconds} s on ${r.machine.cores} × ${r.machine.cpu}`,
  );
  return lines.join('\n');
}

export function writeResults(file: string, results: DemoResults): string {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  return file;
}

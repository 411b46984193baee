import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { machine } from '../bench/machine';
import type { ArithBaseModel, ArithRecipe } from './arith-base-model';
import type { DemoOptions } from './options';

export interface DemoRound {
  round: number;
  greedyAccuracy: number | null;
  scAccuracy: number;
  keptPaths: number | null;
  meanKeptConfidence: number | null;
  promoted: boolean;
  wallSeconds: number;
}

export interface DemoSeedResult {
  seed: number;
  campaignId: string;
  artifactsDir: string;
  rounds: DemoRound[];
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

export function demoResults(
  recipe: ArithRecipe,
  base: ArithBaseModel,
  options: DemoOptions,
  seeds: DemoSeedResult[],
  totalSeconds: number,
) {
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
      m: options.m,
      temperature: options.temperature,
      rounds: options.rounds,
      sampling: 'zero-shot-cot',
      formats: options.formats,
      minConfidence: options.minConfidence,
      maxPerQuestion: 4,
      training: options.quick ? '20 steps at lr 1e-3' : '3 epochs at lr 3e-4, batch 16',
      replay: 'seed examples, replayRatio 0.5 (labels used only to build the base model)',
    },
    seeds,
    meanGreedyGainRound1: meanGain(seeds, 1, 'greedyAccuracy'),
    meanScGainRound1: meanGain(seeds, 1, 'scAccuracy'),
    meanGreedyGainRound2: meanGain(seeds, 2, 'greedyAccuracy'),
    meanScGainRound2: meanGain(seeds, 2, 'scAccuracy'),
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
  ];
  const widths = [5, 6, 8, 8, 11, 15, 9, 0];
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
          x.wallSeconds.toFixed(0),
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

/**
 * npm run bench:ttrl [-- --seeds 1,2,3] [--rounds 2] [--pool 150] [--ttrl-learning-rate LR]
 *                      [--trained-paths N] [--no-collapse] [--out bench/results/ttrl.json]
 *
 * Issue 23: TTRL (GRPO on majority-vote rewards) beside LMSI (fine-tuning on the agreeing paths),
 * from the demo's base model at the same sampling budget — the same pool, m = 16 paths per question
 * at T = 0.7, the same evaluation (200 labeled questions, greedy and SC@16) — through the real
 * campaign workflows. Per seed and strategy: greedy and SC@16 gains over the base model after each
 * round, seconds per round and per step, and the label-free health of every round. First, one
 * forced collapse: TTRL at a learning rate far too high for the model, with gate.labelFree on, which
 * must stop the campaign (`collapse.fired`).
 *
 * Writes the JSON after every campaign (a long run that dies keeps what it finished).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { flagArg, numberArg, numberListArg, stringArg } from './args';
import { machine } from './machine';
import { parseDemoArgs, type DemoOptions } from '../demo/options';
import type { DemoSeedResult } from '../demo/results';
import { DEMO_RECIPE } from '../embedded';
import { demoBase, ensureTemporalCli, ROOT, runSeed, startDemoServer } from '../demo/session';

const SEEDS = numberListArg('seeds', [1, 2, 3]);
const ROUNDS = numberArg('rounds', 2);
const POOL = numberArg('pool', 150);
const TRAINED_PATHS = numberArg('trained-paths', 8);
const TTRL_LR = numberArg('ttrl-learning-rate', 1e-4);
const COLLAPSE = !flagArg('no-collapse');
const OUT = path.resolve(ROOT, stringArg('out', 'bench/results/ttrl.json'));
/** The forced collapse: a learning rate far beyond what the model takes, two rounds, the rule on. */
const COLLAPSE_LR = 0.05;
const COLLAPSE_RULE = { saturatedMajorityShare: 0.9, minAnswerEntropy: 0.2, maxMedianLengthFactor: 1.5 };

type Strategy = 'lmsi' | 'ttrl';
interface Run {
  strategy: Strategy;
  seed: number;
  result: DemoSeedResult;
}

const pp = (x: number | null | undefined) => (x == null ? null : Math.round(x * 1000) / 10);

function gains(result: DemoSeedResult) {
  const r0 = result.rounds.find((r) => r.round === 0);
  return result.rounds
    .filter((r) => r.round > 0)
    .map((r) => ({
      round: r.round,
      greedyGain:
        r0 && r.greedyAccuracy !== null && r0.greedyAccuracy !== null
          ? round1(pp(r.greedyAccuracy)! - pp(r0.greedyAccuracy)!)
          : null,
      scGain: r0 ? round1(pp(r.scAccuracy)! - pp(r0.scAccuracy)!) : null,
      wallSeconds: Math.round(r.wallSeconds),
    }));
}
const round1 = (x: number) => Math.round(x * 10) / 10;

/** Mean over seeds of each round's gain, per strategy. */
function summary(runs: Run[], strategy: Strategy) {
  const mine = runs.filter((r) => r.strategy === strategy);
  return Array.from({ length: ROUNDS }, (_, i) => i + 1).map((round) => {
    const per = mine.flatMap((r) => gains(r.result).filter((g) => g.round === round));
    const mean = (k: 'greedyGain' | 'scGain' | 'wallSeconds') => {
      const xs = per.flatMap((g) => (g[k] === null ? [] : [g[k]]));
      return xs.length === 0 ? null : round1(xs.reduce((a, b) => a + b, 0) / xs.length);
    };
    return {
      round,
      seeds: per.length,
      meanGreedyGain: mean('greedyGain'),
      meanScGain: mean('scGain'),
      meanWallSeconds: mean('wallSeconds'),
    };
  });
}

function table(runs: Run[]): string {
  const lines = [
    'strategy  seed  round  greedy   SC@16    wall (s)  sample/train/evaluate (s)  entropy  median len',
  ];
  for (const { strategy, seed, result } of runs)
    for (const r of result.rounds) {
      const h = r.health?.evaluated;
      const step = (n: 'sample' | 'train' | 'evaluate') => r.stepSeconds?.[n]?.toFixed(0) ?? '—';
      lines.push(
        [
          strategy.padEnd(9),
          String(seed).padEnd(5),
          String(r.round).padEnd(6),
          `${pp(r.greedyAccuracy) ?? '—'}`.padEnd(8),
          `${pp(r.scAccuracy)}`.padEnd(8),
          r.wallSeconds.toFixed(0).padEnd(9),
          `${step('sample')}/${step('train')}/${step('evaluate')}`.padEnd(26),
          (h ? h.meanAnswerEntropy.toFixed(3) : '—').padEnd(8),
          h ? String(h.medianPathTokens) : '—',
        ].join(' '),
      );
    }
  const fmt = (x: number | null) => (x === null ? '—' : `${x > 0 ? '+' : ''}${x.toFixed(1)}`);
  lines.push('');
  for (const strategy of ['lmsi', 'ttrl'] as const)
    for (const s of summary(runs, strategy))
      lines.push(
        `${strategy} round ${s.round} (${s.seeds} seeds): greedy ${fmt(s.meanGreedyGain)} pp, SC@16 ${fmt(s.meanScGain)} pp, ${s.meanWallSeconds ?? '—'} s per round`,
      );
  return lines.join('\n');
}

async function main(): Promise<void> {
  const started = Date.now();
  const common = ['--pool', String(POOL), '--rounds', String(ROUNDS), '--ui-port', '8392'];
  const lmsi = parseDemoArgs(common);
  const ttrl = parseDemoArgs([
    ...common,
    '--strategy',
    'ttrl',
    '--trained-paths',
    String(TRAINED_PATHS),
    '--learning-rate',
    String(TTRL_LR),
  ]);
  const temporalBin = ensureTemporalCli();
  const base = await demoBase(DEMO_RECIPE, lmsi);
  const server = await startDemoServer(temporalBin, lmsi.uiPort);
  const runs: Run[] = [];
  let collapse: { options: Partial<DemoOptions>; result: DemoSeedResult; fired: boolean } | null = null;
  const write = () => {
    const results = {
      machine: machine(),
      date: new Date().toISOString(),
      recipe: DEMO_RECIPE.name,
      settings: {
        pool: POOL,
        m: lmsi.m,
        temperature: lmsi.temperature,
        rounds: ROUNDS,
        evaluation: `SC@${lmsi.m} and greedy on the recipe's evaluation split`,
        lmsi: {
          formats: lmsi.formats,
          minConfidence: lmsi.minConfidence,
          maxPerQuestion: lmsi.maxPerQuestion,
          epochs: [lmsi.epochs, lmsi.laterEpochs],
          learningRate: lmsi.learningRate,
        },
        ttrl: {
          trainedPaths: ttrl.trainedPaths,
          epochs: ttrl.epochs,
          learningRate: ttrl.learningRate,
          clipEpsilon: 0.2,
          klBeta: 0,
        },
      },
      seeds: SEEDS,
      runs: runs.map(({ strategy, result }) => ({ strategy, gains: gains(result), ...result })),
      summary: { lmsi: summary(runs, 'lmsi'), ttrl: summary(runs, 'ttrl') },
      collapse: collapse && {
        ...collapse,
        rule: COLLAPSE_RULE,
      },
      totalSeconds: Math.round((Date.now() - started) / 1000),
    };
    mkdirSync(path.dirname(OUT), { recursive: true });
    writeFileSync(OUT, `${JSON.stringify(results, null, 2)}\n`);
  };
  try {
    if (COLLAPSE) {
      process.stdout.write(`\n== forced collapse: ttrl at learning rate ${COLLAPSE_LR}, gate.labelFree on\n`);
      const options = {
        ...ttrl,
        learningRate: COLLAPSE_LR,
        laterLearningRate: COLLAPSE_LR,
        labelFree: COLLAPSE_RULE,
      };
      const result = await runSeed(server, base, options, SEEDS[0], 'bench-collapse');
      collapse = {
        options: { learningRate: COLLAPSE_LR, strategy: 'ttrl', labelFree: COLLAPSE_RULE },
        result,
        fired: result.stopped !== undefined,
      };
      write();
      process.stdout.write(
        collapse.fired
          ? `collapse rule fired in round ${result.stopped!.round}: ${result.stopped!.reason}\n`
          : 'collapse rule did NOT fire\n',
      );
    }
    for (const seed of SEEDS) {
      for (const [strategy, options] of [
        ['lmsi', lmsi],
        ['ttrl', ttrl],
      ] as const) {
        process.stdout.write(`\n== ${strategy}, seed ${seed}\n`);
        runs.push({
          strategy,
          seed,
          result: await runSeed(server, base, options, seed, `bench-${strategy}`),
        });
        write();
      }
    }
  } finally {
    await server.close();
  }
  process.stdout.write(`\n${table(runs)}\n\nresults: ${path.relative(ROOT, OUT)}\n`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});

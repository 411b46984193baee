/**
 * npm run bench:train — trains the embedded-size model (the default config, ~1M parameters) at
 * sequence 128, batch 16 for a fixed number of steps through engine/train's fineTune, measures the
 * machine's fp32 MatMul rate through onnxruntime in the same run, and writes bench/results/train.json.
 *
 * limitTokensPerSec = matmulGflops·1e9 / (6 · params): the rate if every step were nothing but the
 * 6·params FLOPs per token of a dense forward + backward at the machine's MatMul speed.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createBaseModel } from '../engine/checkpoint';
import { LlamaConfig, parameterCount } from '../engine/model';
import { fineTune } from '../engine/train';
import { Rng } from '../base/rng';
import { numberArg } from './args';
import { MATMUL_N, machine, matmulGflops, median } from './machine';

const STEPS = numberArg('steps', 40);
const WARMUP_STEPS = 3; // not timed: the first runs allocate the arena and page in the graph
const BATCH = numberArg('batch', 16);
const SEQ = 128;
const THREADS = numberArg('threads', os.cpus().length);

/**
 * This machine is shared, so a run may lose a core to another process at any moment: each rate is
 * taken from the fastest of its repetitions (the machine undisturbed), medians are kept alongside.
 */

/** Synthetic word problems of about 80 tokens: one per 128-token row, the rest padding. */
function corpus(n: number): { prompt: string; completion: string }[] {
  const rng = new Rng(8);
  return Array.from({ length: n }, () => {
    const a = rng.int(2, 99);
    const b = rng.int(2, 99);
    return {
      prompt: `Q: Sam has ${a} pens and gets ${b} more. How many?\nA:`,
      completion: ` ${a} + ${b} = ${a + b}. The answer is ${a + b}.`,
    };
  });
}

async function trainThroughput(dir: string) {
  const config = LlamaConfig.parse({});
  const from = createBaseModel({ config, seed: 1, dir: path.join(dir, 'base') });
  const stamps: number[] = [];
  const result = await fineTune({
    from,
    outDir: path.join(dir, 'run'),
    examples: corpus(4000),
    config: {
      steps: STEPS,
      learningRate: 1e-3,
      warmupSteps: 2,
      batchSize: BATCH,
      seqLen: SEQ,
      checkpointEvery: STEPS, // only the final save, outside the timed steps
      seed: 'bench',
    },
    threads: THREADS,
    onProgress: (p) => {
      if (p.step < STEPS) stamps.push(performance.now());
    },
  });
  const stepMs = stamps.slice(WARMUP_STEPS).map((t, i) => t - stamps[WARMUP_STEPS - 1 + i]);
  const positions = BATCH * SEQ;
  return {
    config,
    params: parameterCount(config),
    bestStepMs: Math.min(...stepMs),
    medianStepMs: median(stepMs),
    tokensPerSec: positions / (Math.min(...stepMs) / 1000),
    medianTokensPerSec: positions / (median(stepMs) / 1000),
    realTokenFraction: result.tokensSeen / (positions * result.steps),
    firstLoss: result.lossCurve[0].loss,
    finalLoss: result.finalLoss,
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lmsi-bench-train-'));
  try {
    const before = await matmulGflops(THREADS);
    const train = await trainThroughput(dir);
    const after = await matmulGflops(THREADS);
    const gflops = Math.max(before.best, after.best);
    const limitTokensPerSec = (gflops * 1e9) / (6 * train.params);
    const medianGflops = Math.max(before.median, after.median);
    const result = {
      machine: machine(),
      params: train.params,
      batchSize: BATCH,
      seqLen: SEQ,
      steps: STEPS,
      threads: THREADS,
      bestStepMs: +train.bestStepMs.toFixed(1),
      medianStepMs: +train.medianStepMs.toFixed(1),
      tokensPerSec: Math.round(train.tokensPerSec),
      medianTokensPerSec: Math.round(train.medianTokensPerSec),
      realTokenFraction: +train.realTokenFraction.toFixed(3),
      matmulGflops: +gflops.toFixed(1),
      limitTokensPerSec: Math.round(limitTokensPerSec),
      fractionOfLimit: +(train.tokensPerSec / limitTokensPerSec).toFixed(3),
      medianMatmulGflops: +medianGflops.toFixed(1),
      fractionOfLimitFromMedians: +(
        (train.medianTokensPerSec * 6 * train.params) /
        (medianGflops * 1e9)
      ).toFixed(3),
      peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
      loss: { first: +train.firstLoss.toFixed(4), final: +train.finalLoss.toFixed(4) },
    };
    console.table({
      machine: `${result.machine.cpu}, ${result.machine.cores} cores`,
      parameters: result.params,
      'batch × seq': `${BATCH} × ${SEQ}`,
      'step ms (best / median)': `${result.bestStepMs} / ${result.medianStepMs}`,
      'tokens/s (best / median)': `${result.tokensPerSec} / ${result.medianTokensPerSec}`,
      [`fp32 MatMul ${MATMUL_N}² GFLOP/s (best / median)`]: `${result.matmulGflops} / ${result.medianMatmulGflops}`,
      'limit tokens/s (GFLOP/s / 6N)': result.limitTokensPerSec,
      'fraction of limit (best / medians)': `${result.fractionOfLimit} / ${result.fractionOfLimitFromMedians}`,
      'peak RSS (MB)': result.peakRssMB,
      'loss first → final': `${result.loss.first} → ${result.loss.final}`,
    });
    const out = path.join(__dirname, 'results', 'train.json');
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
    console.log(`wrote ${path.relative(process.cwd(), out)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

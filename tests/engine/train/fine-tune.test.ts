import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createBaseModel, loadCheckpoint } from '../../../engine/checkpoint';
import type { Params } from '../../../engine/model';
import {
  type FineTuneConfigInput,
  type FineTuneOptions,
  type FineTuneProgress,
  NonFiniteLossError,
  TrainingAbortedError,
  fineTune,
  learningRateAt,
} from '../../../engine/train';
import { isBadInputError } from '../../../base/errors';
import { Rng } from '../../../base/rng';

const root = mkdtempSync(path.join(os.tmpdir(), 'lmsi-finetune-'));
let n = 0;
const fresh = (name: string) => path.join(root, `${name}-${n++}`);

const MODEL = { vocabSize: 96, dModel: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, dFF: 64, maxSeqLen: 64 };
let base: string;

const rng = new Rng(42);
const word = (len: number) => Array.from({ length: len }, () => rng.pick([...'abcdefghij'])).join('');
const EXAMPLES = Array.from({ length: 20 }, () => ({
  prompt: `${word(rng.int(2, 9))}=`,
  completion: word(rng.int(1, 6)),
}));
const HELD_OUT = EXAMPLES.slice(0, 4).map((e) => ({ prompt: e.prompt + 'x', completion: e.completion }));

const CONFIG: FineTuneConfigInput = {
  steps: 12,
  learningRate: 3e-3,
  warmupSteps: 3,
  batchSize: 2,
  gradientAccumulation: 2,
  seqLen: 24,
  checkpointEvery: 4,
  keepCheckpoints: 2,
  seed: 'resume-test',
};

function run(over: Partial<FineTuneOptions> = {}) {
  return fineTune({
    from: base,
    outDir: fresh('out'),
    examples: EXAMPLES,
    evalExamples: HELD_OUT,
    config: CONFIG,
    threads: 2,
    ...over,
  });
}

function maxDiff(a: Params, b: Params): number {
  let worst = 0;
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  for (const [k, x] of a) {
    const y = b.get(k)!;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]));
  }
  return worst;
}

/**
 * After one step exp_avg is (1 − β1) × the clipped gradient: compare that, not the weights (AdamW's
 * first step is lr × g / (|g| + eps), which turns float noise in a near-zero gradient into lr-sized moves).
 */
function expectSameFirstGradient(a: string, b: string): void {
  const ga = loadCheckpoint(a).optimizer!.expAvg;
  const gb = loadCheckpoint(b).optimizer!.expAvg;
  let scale = 0;
  for (const x of ga.values()) for (const v of x) scale = Math.max(scale, Math.abs(v));
  expect(scale).toBeGreaterThan(1e-3);
  expect(maxDiff(ga, gb) / scale).toBeLessThan(1e-5);
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

beforeAll(() => {
  base = createBaseModel({ config: MODEL, seed: 3, dir: fresh('base') });
});

describe('fineTune', () => {
  let straight: Awaited<ReturnType<typeof fineTune>>;
  const progress: FineTuneProgress[] = [];

  beforeAll(async () => {
    straight = await run({ outDir: fresh('straight'), onProgress: (p) => void progress.push(p) });
  });

  test('reports every step; checkpoints every N and at the end; keeps the newest ones', () => {
    expect(straight.steps).toBe(12);
    expect(progress.map((p) => p.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const total = { learningRate: 3e-3, warmupSteps: 3, minLearningRateRatio: 0.1, totalSteps: 12 };
    progress.forEach((p) => {
      expect(p.totalSteps).toBe(12);
      expect(p.lr).toBe(learningRateAt(p.step, total));
      expect(p.gradNorm).toBeGreaterThan(0);
      expect(p.tokensPerSec).toBeGreaterThan(0);
    });
    expect(progress.filter((p) => p.checkpointDir).map((p) => p.step)).toEqual([4, 8, 12]);
    expect(progress.filter((p) => p.evalLoss !== undefined).map((p) => p.step)).toEqual([4, 8, 12]);
    expect(straight.evalLosses.map((e) => e.step)).toEqual([0, 4, 8, 12]);
    expect(straight.lossCurve.map((l) => l.loss)).toEqual(progress.map((p) => p.loss));
    expect(straight.finalLoss).toBe(progress[11].loss);
    expect(straight.lossCurve[11].loss).toBeLessThan(straight.lossCurve[0].loss);
    expect(straight.evalLosses[3].loss).toBeLessThan(straight.evalLosses[0].loss);
    const out = path.dirname(straight.checkpointDir);
    expect(readdirSync(out).sort()).toEqual(['checkpoint-12', 'checkpoint-8']);
    const state = loadCheckpoint(straight.checkpointDir).trainerState!;
    expect(state).toMatchObject({ global_step: 12, max_steps: 12, finished: true, seed: 'resume-test' });
    expect(state.tokens_seen).toBe(straight.tokensSeen);
  });

  test('stopped by its AbortSignal at step 6 and resumed, the run ends with the same weights', async () => {
    const outDir = fresh('aborted');
    const controller = new AbortController();
    const err = await rejection(
      run({
        outDir,
        signal: controller.signal,
        onProgress: (p) => void (p.step === 6 && controller.abort()),
      }),
    );
    expect(err).toBeInstanceOf(TrainingAbortedError);
    expect((err as TrainingAbortedError).checkpointDir).toBe(path.join(outDir, 'checkpoint-6'));
    expect(loadCheckpoint(path.join(outDir, 'checkpoint-6')).trainerState!.global_step).toBe(6);

    const resumedSteps: number[] = [];
    const resumed = await run({ outDir, resume: true, onProgress: (p) => void resumedSteps.push(p.step) });
    expect(resumedSteps).toEqual([7, 8, 9, 10, 11, 12]);
    expect(resumed.steps).toBe(12);
    expect(resumed.lossCurve).toEqual(straight.lossCurve);
    expect(resumed.evalLosses).toEqual(straight.evalLosses);
    expect(resumed.tokensSeen).toBe(straight.tokensSeen);
    const a = loadCheckpoint(straight.checkpointDir);
    const b = loadCheckpoint(resumed.checkpointDir);
    expect(maxDiff(a.params, b.params)).toBeLessThanOrEqual(1e-6);
    expect(maxDiff(a.optimizer!.expAvgSq, b.optimizer!.expAvgSq)).toBeLessThanOrEqual(1e-9);

    // Resuming a finished run returns its result without training again.
    const again = await run({
      outDir,
      resume: true,
      onProgress: () => {
        throw new Error('no step expected');
      },
    });
    // (seconds is this call's wall time, the only field that may differ)
    expect({ ...again, seconds: 0 }).toEqual({ ...resumed, seconds: 0 });
    // Checkpoints hold no wall-clock time: the resumed run's files equal the uninterrupted run's.
    const state = (c: string) => readFileSync(path.join(c, 'trainer_state.json'), 'utf8');
    expect(state(resumed.checkpointDir)).toBe(state(straight.checkpointDir));
  });

  test('a crash after a checkpoint resumes from it, also from a copy unpacked elsewhere (a retry on another machine)', async () => {
    const outDir = fresh('crash');
    const err = await rejection(
      run({
        outDir,
        onProgress: (p) => {
          if (p.step === 7) throw new Error('worker lost');
        },
      }),
    );
    expect(err.message).toBe('worker lost');
    expect(readdirSync(outDir)).toEqual(['checkpoint-4']);
    const elsewhere = fresh('unpacked');
    cpSync(path.join(outDir, 'checkpoint-4'), elsewhere, { recursive: true });
    const resumed = await run({ from: elsewhere, outDir: fresh('retry'), resume: true });
    expect(resumed.lossCurve).toEqual(straight.lossCurve);
    expect(
      maxDiff(loadCheckpoint(resumed.checkpointDir).params, loadCheckpoint(straight.checkpointDir).params),
    ).toBeLessThanOrEqual(1e-6);
    const sameFolder = await run({ outDir, resume: true });
    expect(sameFolder.lossCurve).toEqual(straight.lossCurve);
  });

  test('resuming with other settings or other data is refused; an outDir with checkpoints needs resume', async () => {
    const outDir = path.dirname(straight.checkpointDir);
    const other = { ...CONFIG, steps: 16 };
    await expect(run({ outDir, resume: true, config: { ...other, learningRate: 1e-3 } })).rejects.toThrow(
      /trainer_state.json: args.steps: the run was started with 12, this call asks for 16/,
    );
    const e = await rejection(run({ outDir, resume: true, examples: EXAMPLES.slice(1) }));
    expect(isBadInputError(e) && e.message).toMatch(/data_fingerprint: the examples/);
    await expect(run({ outDir })).rejects.toThrow(/already holds checkpoint-12: pass resume: true/);
    await expect(run({ config: { ...CONFIG, seqLen: 65 } })).rejects.toThrow(
      /seqLen: 65 exceeds the model's max_position_embeddings 64/,
    );
    await expect(run({ config: { ...CONFIG, batchSize: 0 } })).rejects.toThrow(
      /\(fine-tune config\): batchSize:/,
    );
  });

  test('gradient accumulation over micro-batches equals one step on all their rows', async () => {
    const data = EXAMPLES.slice(0, 6);
    const common = { steps: 1, learningRate: 1e-2, seqLen: 24, packing: false, seed: 1, checkpointEvery: 1 };
    const big = await run({ examples: data, evalExamples: undefined, config: { ...common, batchSize: 6 } });
    const small = await run({
      examples: data,
      evalExamples: undefined,
      config: { ...common, batchSize: 2, gradientAccumulation: 3 },
    });
    expect(small.finalLoss).toBeCloseTo(big.finalLoss, 5);
    const moved = maxDiff(loadCheckpoint(big.checkpointDir).params, loadCheckpoint(base).params);
    expect(moved).toBeGreaterThan(1e-3);
    expectSameFirstGradient(small.checkpointDir, big.checkpointDir);
  });

  test('a packed row computes each example as if it had the row to itself', async () => {
    const data = EXAMPLES.slice(0, 6);
    const common = { steps: 1, learningRate: 1e-2, seqLen: 24, batchSize: 6, seed: 1, checkpointEvery: 1 };
    const alone = await run({
      examples: data,
      evalExamples: undefined,
      config: { ...common, packing: false },
    });
    const packed = await run({
      examples: data,
      evalExamples: undefined,
      config: { ...common, packing: true },
    });
    expect(packed.finalLoss).toBeCloseTo(alone.finalLoss, 5);
    expectSameFirstGradient(packed.checkpointDir, alone.checkpointDir);
  });

  test('a NaN loss stops the run with a clear error and keeps the last good checkpoint', async () => {
    const outDir = fresh('nan');
    const err = await rejection(
      run({ outDir, config: { ...CONFIG, learningRate: 1e30, warmupSteps: 0, checkpointEvery: 1 } }),
    );
    expect(err).toBeInstanceOf(NonFiniteLossError);
    const e = err as NonFiniteLossError;
    expect(e.message).toMatch(
      /^training diverged at step \d+: the (loss|gradient norm) is (NaN|-?Infinity) \(/,
    );
    expect(e.message).toMatch(/the last good checkpoint is .*checkpoint-\d+\. Lower the learning rate/);
    expect(e.lastGoodCheckpoint).toBe(path.join(outDir, `checkpoint-${e.step - 1}`));
    expect(existsSync(path.join(outDir, `checkpoint-${e.step}`))).toBe(false);
    const good = loadCheckpoint(e.lastGoodCheckpoint!);
    expect(good.trainerState!.log_history.every((l) => Number.isFinite(l.loss))).toBe(true);
  });
});

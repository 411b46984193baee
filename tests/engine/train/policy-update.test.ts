import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { isBadInputError } from '../../../base/errors';
import { Rng } from '../../../base/rng';
import { createBaseModel, loadCheckpoint } from '../../../engine/checkpoint';
import { loadTokenizer } from '../../../engine/tokenizer/load';
import type { Params } from '../../../engine/model';
import {
  OLD_LOGPROBS_FILE,
  type PolicyUpdateOptions,
  TrainingAbortedError,
  completionLogProbs,
  policyUpdate,
} from '../../../engine/train';

/**
 * The trainer's policy update (loss 'grpo') on a real tiny checkpoint: π_old scored before step 1,
 * paths with a positive advantage made likelier and the others less likely, full and LoRA, the old
 * log-probs kept in the checkpoints so a stopped run resumes to the same weights.
 */

const root = mkdtempSync(path.join(os.tmpdir(), 'lmsi-policy-'));
let n = 0;
const fresh = (name: string) => path.join(root, `${name}-${n++}`);

const rng = new Rng(31);
const word = (len: number) => Array.from({ length: len }, () => rng.pick([...'abcdefghij'])).join('');
/** Four questions, four sampled paths each; within a question the first two are rewarded (A = +1), the rest not (A = −1). */
const PATHS = Array.from({ length: 4 }, () => `${word(rng.int(2, 6))}=`).flatMap((prompt) =>
  Array.from({ length: 4 }, (_, k) => ({
    prompt,
    completion: word(rng.int(2, 5)),
    advantage: k < 2 ? 1 : -1,
  })),
);

const CONFIG: PolicyUpdateOptions['config'] = {
  epochs: 3,
  learningRate: 5e-3,
  batchSize: 2,
  gradientAccumulation: 2,
  seqLen: 24,
  weightDecay: 0,
  checkpointEvery: 2,
  keepCheckpoints: 10,
  seed: 'policy-test',
  grpo: { clipEpsilon: 0.2, klBeta: 0.02, temperature: 0.8 },
};

const MODEL = { vocabSize: 96, dModel: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, dFF: 64, maxSeqLen: 64 };
let base: string;
/** Another model of the same shape: a KL reference other than the starting model. */
let other: string;
beforeAll(() => {
  base = createBaseModel({ dir: fresh('base'), config: MODEL, seed: 5 });
  other = createBaseModel({ dir: fresh('other'), config: MODEL, seed: 6 });
});

const run = (over: Partial<PolicyUpdateOptions> = {}) =>
  policyUpdate({ from: base, outDir: fresh('out'), examples: PATHS, config: CONFIG, threads: 2, ...over });

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Each path's total log-probability at the sampling temperature. */
async function pathLogProbs(model: string): Promise<number[]> {
  const scored = await completionLogProbs({ model, examples: PATHS, temperature: 0.8, threads: 2 });
  return scored.map((s) => s.logProbs.reduce((a, b) => a + b, 0));
}

function maxDiff(a: Params, b: Params): number {
  let worst = 0;
  for (const [k, x] of a) {
    const y = b.get(k)!;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]));
  }
  return worst;
}

test('completionLogProbs equals log softmax(logits / T) of the exported ONNX model at each completion token', async () => {
  const examples = PATHS.slice(0, 3);
  const scored = await completionLogProbs({ model: base, examples, temperature: 0.5, threads: 2 });
  const tok = loadTokenizer(base);
  const session = await ort.InferenceSession.create(path.join(base, 'onnx', 'model.onnx'));
  const V = loadCheckpoint(base, { weightsOnly: true }).config.vocabSize;
  for (const [i, e] of examples.entries()) {
    const prompt = tok.encode(e.prompt, { bos: true });
    const ids = [...prompt, ...scored[i].tokenIds];
    expect(scored[i].tokenIds[scored[i].tokenIds.length - 1]).toBe(tok.eosId);
    const L = ids.length - 1;
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.slice(0, L), BigInt), [1, L]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(L).fill(1n), [1, L]),
      position_ids: new ort.Tensor(
        'int64',
        BigInt64Array.from({ length: L }, (_, j) => BigInt(j)),
        [1, L],
      ),
    };
    for (const name of session.inputNames.filter((x) => x.startsWith('past_key_values')))
      feeds[name] = new ort.Tensor('float32', new Float32Array(0), [1, 2, 0, 8]);
    const logits = (await session.run(feeds)).logits.data as Float32Array;
    scored[i].tokenIds.forEach((t, k) => {
      const j = prompt.length - 1 + k; // position j predicts token j + 1
      const row = Array.from(logits.subarray(j * V, (j + 1) * V), (v) => v / 0.5);
      const max = Math.max(...row);
      const logZ = max + Math.log(row.reduce((a, v) => a + Math.exp(v - max), 0));
      expect(scored[i].logProbs[k]).toBeCloseTo(row[t] - logZ, 4);
    });
  }
  await session.release();
});

describe.each([
  ['full', { method: 'full' as const }],
  ['LoRA', { method: 'lora' as const, lora: { rank: 4, alpha: 8, dropout: 0 } }],
])('policyUpdate, %s', (_, method) => {
  let straight: Awaited<ReturnType<typeof policyUpdate>>;
  const config = { ...CONFIG, ...method };

  beforeAll(async () => {
    straight = await run({ outDir: fresh('straight'), config });
  });

  test('the first step costs −A per token (r = 1, no KL yet); rewarded paths become likelier, the others less likely', async () => {
    // Every path is in step 1 only if one mini-batch holds them all: the test below uses the first
    // step's loss of a one-step run on all paths.
    const one = await run({ config: { ...config, epochs: 1, batchSize: 16, gradientAccumulation: 1 } });
    const scored = await completionLogProbs({ model: base, examples: PATHS, threads: 2 });
    const tokens = scored.map((s) => s.tokenIds.length);
    const expected =
      -PATHS.reduce((a, p, i) => a + p.advantage * tokens[i], 0) / tokens.reduce((a, b) => a + b);
    expect(one.lossCurve[0].loss).toBeCloseTo(expected, 5);

    const before = await pathLogProbs(base);
    const after = await pathLogProbs(straight.checkpointDir);
    const rise = after.map((v, i) => v - before[i]);
    const rewarded = rise.filter((_, i) => PATHS[i].advantage > 0);
    const others = rise.filter((_, i) => PATHS[i].advantage < 0);
    expect(mean(rewarded)).toBeGreaterThan(0.1);
    expect(mean(others)).toBeLessThan(-0.1);
    expect(straight.steps).toBeGreaterThan(4);
  });

  test('a KL reference other than the starting model: step 1 costs −A + β·k3(ref − old) per token; resumes only with it', async () => {
    const beta = 2;
    const grpo = { ...CONFIG.grpo, klBeta: beta };
    const one = await run({
      reference: other,
      config: { ...config, grpo, epochs: 1, batchSize: 16, gradientAccumulation: 1 },
    });
    const old = await completionLogProbs({ model: base, examples: PATHS, temperature: 0.8, threads: 2 });
    const ref = await completionLogProbs({ model: other, examples: PATHS, temperature: 0.8, threads: 2 });
    let sum = 0;
    let kl = 0;
    let count = 0;
    old.forEach((o, i) =>
      o.logProbs.forEach((lp, k) => {
        const d = ref[i].logProbs[k] - lp;
        kl += Math.exp(d) - d - 1;
        sum += -PATHS[i].advantage + beta * (Math.exp(d) - d - 1);
        count++;
      }),
    );
    expect((beta * kl) / count).toBeGreaterThan(0.01); // the KL term is not negligible here
    expect(one.lossCurve[0].loss).toBeCloseTo(sum / count, 4);

    const four = { ...config, grpo, epochs: undefined, steps: 4, checkpointEvery: 1 };
    const straightRef = await run({ reference: other, config: four });
    const outDir = fresh('stopped-ref');
    const controller = new AbortController();
    await expect(
      run({
        outDir,
        reference: other,
        config: four,
        signal: controller.signal,
        onProgress: (p) => void (p.step === 2 && controller.abort()),
      }),
    ).rejects.toBeInstanceOf(TrainingAbortedError);
    await expect(run({ outDir, config: four, resume: true })).rejects.toThrow(
      /ref_logprobs.f32: \(file\): the run was started with a reference model/,
    );
    const resumed = await run({ outDir, reference: other, config: four, resume: true });
    expect(resumed.lossCurve).toEqual(straightRef.lossCurve);
    const a = loadCheckpoint(straightRef.checkpointDir).params;
    expect(maxDiff(a, loadCheckpoint(resumed.checkpointDir).params)).toBe(0);
  });

  test('unfinished checkpoints keep the old log-probs; the final model carries none', () => {
    const out = path.dirname(straight.checkpointDir);
    const checkpoints = readdirSync(out).filter((d) => d !== path.basename(straight.checkpointDir));
    expect(checkpoints.length).toBeGreaterThan(0);
    for (const d of checkpoints) {
      const bytes = readFileSync(path.join(out, d, OLD_LOGPROBS_FILE));
      expect(bytes.byteLength).toBeGreaterThan(0);
      expect(bytes.byteLength % 4).toBe(0);
    }
    expect(existsSync(path.join(straight.checkpointDir, OLD_LOGPROBS_FILE))).toBe(false);
    const state = loadCheckpoint(straight.checkpointDir).trainerState!;
    expect(state.args).toMatchObject({ loss: 'grpo', grpo: CONFIG.grpo });
  });

  test('stopped mid-update and resumed, also from a copy of the checkpoint alone, it ends with the same weights', async () => {
    const outDir = fresh('stopped');
    const controller = new AbortController();
    await expect(
      run({
        outDir,
        config,
        signal: controller.signal,
        onProgress: (p) => void (p.step === 3 && controller.abort()),
      }),
    ).rejects.toBeInstanceOf(TrainingAbortedError);
    const stopped = path.join(outDir, 'checkpoint-3');
    const elsewhere = fresh('unpacked');
    cpSync(stopped, elsewhere, { recursive: true });

    const resumed = await run({ outDir, config, resume: true });
    const retried = await run({ from: elsewhere, outDir: fresh('retry'), config, resume: true });
    for (const r of [resumed, retried]) {
      expect(r.lossCurve).toEqual(straight.lossCurve);
      const a = loadCheckpoint(straight.checkpointDir);
      const b = loadCheckpoint(r.checkpointDir);
      expect(maxDiff(a.params, b.params)).toBe(0);
      expect(maxDiff(a.optimizer!.expAvg, b.optimizer!.expAvg)).toBe(0);
    }
  });
});

test('gradient accumulation weighs micro-batches by their completion tokens: one step equals one step on all the rows', async () => {
  const common = { ...CONFIG, steps: 1, epochs: undefined, packing: false, checkpointEvery: 1 };
  const big = await run({ config: { ...common, batchSize: 16, gradientAccumulation: 1 } });
  const small = await run({ config: { ...common, batchSize: 4, gradientAccumulation: 4 } });
  expect(small.finalLoss).toBeCloseTo(big.finalLoss, 6);
  // After one step exp_avg is (1 − β1) × the clipped gradient.
  const a = loadCheckpoint(big.checkpointDir).optimizer!.expAvg;
  const b = loadCheckpoint(small.checkpointDir).optimizer!.expAvg;
  let scale = 0;
  for (const x of a.values()) for (const v of x) scale = Math.max(scale, Math.abs(v));
  expect(scale).toBeGreaterThan(1e-4);
  expect(maxDiff(a, b) / scale).toBeLessThan(1e-5);
});

test('the scoring pass before step 1 reports its progress and stops on the abort signal, saving nothing', async () => {
  const seen: { scoredRows: number; totalRows: number }[] = [];
  const outDir = fresh('scoring');
  const controller = new AbortController();
  const err = await run({
    outDir,
    signal: controller.signal,
    onScoring: (p) => {
      seen.push(p);
      if (seen.length === 2) controller.abort();
    },
  }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(TrainingAbortedError);
  expect((err as TrainingAbortedError).step).toBe(0);
  expect(seen.map((p) => p.scoredRows)).toEqual([2, 4]);
  expect(seen[0].totalRows).toBeGreaterThan(4);
  expect(existsSync(outDir) ? readdirSync(outDir) : []).toEqual([]);
});

test('a path without an advantage, held-out examples and a non-grpo option are refused, naming the field', async () => {
  const missing = PATHS.map((p, i) => (i === 2 ? { prompt: p.prompt, completion: p.completion } : p));
  const e = await run({ examples: missing as PolicyUpdateOptions['examples'] }).catch((x: unknown) => x);
  expect(isBadInputError(e) && (e as Error).message).toMatch(/\(examples\):3: advantage:/);
  await expect(
    policyUpdate({
      from: base,
      outDir: fresh('eval'),
      examples: PATHS,
      config: CONFIG,
      ...({ evalExamples: PATHS } as object),
    }),
  ).rejects.toThrow(/loss: 'grpo' measures no held-out loss/);
  await expect(run({ config: { ...CONFIG, grpo: { clipEpsilon: 1.5 } } })).rejects.toThrow(
    /grpo.clipEpsilon/,
  );
  await expect(run({ reference: other, config: { ...CONFIG, grpo: { klBeta: 0 } } })).rejects.toThrow(
    /reference: a KL reference model needs loss 'grpo' with grpo.klBeta > 0/,
  );
  const wide = createBaseModel({ dir: fresh('wide'), config: { ...MODEL, dFF: 96 }, seed: 1 });
  await expect(
    run({ reference: wide, config: { ...CONFIG, grpo: { klBeta: 0.1 }, epochs: 1 } }),
  ).rejects.toThrow(/config.json: \(config\): differs from the trained model's/);
});

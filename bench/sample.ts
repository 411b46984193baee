/**
 * npm run bench:sample — the sampler on the embedded-size model (the default config, ~1M parameters,
 * random weights): 8 prompts × n = 32 paths × up to 64 new tokens at T = 0.7, in one run:
 *   (a) lmsi's generatePaths, at several decode steps per session.run (1 = the one-step loop);
 *   (b) a naive loop without a KV cache: every step runs each prompt's live rows over their whole
 *       sequence (same model file, same draws);
 *   (c) transformers.js generate with sampling on the same model folder, in the faster of two ways to
 *       draw n samples per prompt: a batch of the prompt repeated n times per prompt, or one
 *       left-padded batch of all repeats. (Its num_return_sequences is accepted but, in 4.3.1, still
 *       returns one sequence per prompt when sampling, so it cannot be used.)
 * plus the machine's fp32 MatMul rate through onnxruntime. Writes bench/results/sample.json.
 * The same comparison of steps per run on large-vocabulary models (32 000 tokens, a SmolLM2-135M
 * folder) is bench/sample-large-vocab.ts.
 *
 * limitTokensPerSec = matmulGflops·1e9 / (2 · params): every token nothing but the 2·params FLOPs of
 * a dense forward pass at the machine's MatMul speed. Tokens are the real ones (a path that draws
 * eos stops there), counted the same way for every contender.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { createBaseModel } from '../engine/checkpoint';
import {
  type GenerationModel,
  SampleOptions,
  chooseToken,
  emptyTimings,
  loadGenerationModel,
  generatePaths,
} from '../engine/generate';
import { LlamaConfig, parameterCount } from '../engine/model';
import { Rng, deriveSeed } from '../base/rng';
import { numberArg, numberListArg, stringArg } from './args';
import { MATMUL_N, machine, matmulGflops, median } from './machine';

const THREADS = numberArg('threads', os.cpus().length);
/** `cuda` (bench/gpu) runs the sampler, the naive loop, transformers.js and the MatMul on the GPU. */
const PROVIDER_ARG = stringArg('provider', 'cpu');
if (PROVIDER_ARG !== 'cpu' && PROVIDER_ARG !== 'cuda') {
  throw new Error(`--provider must be cpu or cuda, got ${PROVIDER_ARG}`);
}
const PROVIDER: 'cpu' | 'cuda' = PROVIDER_ARG;
const OUT = stringArg(
  'out',
  path.join(__dirname, 'results', PROVIDER === 'cuda' ? 'sample-cuda.json' : 'sample.json'),
);
const REPS = numberArg('reps', 3);
const STEPS = numberListArg('steps', [1, 4, 8, 16]);
const NAIVE_PROMPTS = numberArg('naive-prompts', 8);
/** Rounds of (lmsi, transformers.js) back to back, so both see the same load on a shared machine. */
const ROUNDS = numberArg('rounds', 3);
const N = 32;
const NEW_TOKENS = 64;
const TEMPERATURE = 0.7;

const round = (x: number, digits = 0) => +x.toFixed(digits);

function gpuName(): string {
  try {
    return execFileSync('nvidia-smi', ['--query-gpu=name,memory.total', '--format=csv,noheader'], {
      encoding: 'utf8',
    }).trim();
  } catch {
    return 'unknown (nvidia-smi failed)';
  }
}

/** Eight word problems of about 96 characters (one token per character). */
function prompts(): { id: string; text: string }[] {
  const rng = new Rng(5);
  return Array.from({ length: 8 }, (_, i) => {
    const a = rng.int(10, 99);
    const b = rng.int(10, 99);
    const c = rng.int(2, 9);
    return {
      id: `bench-${i}`,
      text: `Q: A shop has ${a} boxes. It gets ${b} more and sells ${c}. How many boxes are left now?\nA:`,
    };
  });
}

interface Rate {
  tokens: number;
  bestTokPerSec: number;
  medianTokPerSec: number;
  runs: number;
}

function rate(tokens: number, seconds: number[]): Rate {
  return {
    tokens,
    bestTokPerSec: round(tokens / Math.min(...seconds)),
    medianTokPerSec: round(tokens / median(seconds)),
    runs: seconds.length,
  };
}

const REQUEST = { n: N, temperature: TEMPERATURE, maxNewTokens: NEW_TOKENS, seed: 'b' };

async function lmsiOnce(model: GenerationModel): Promise<number> {
  const out = await generatePaths(model, { ...REQUEST, prompts: prompts() });
  return out.flat().reduce((s, c) => s + c.tokenIds.length, 0);
}

async function lmsi(model: GenerationModel, stepsPerRun: number) {
  const request = { ...REQUEST, prompts: prompts() };
  const timings = emptyTimings();
  await generatePaths(model, { ...request, stepsPerRun, timings }); // builds the session, warms the arena
  if (timings.stepsPerRun !== stepsPerRun) throw new Error(`stepsPerRun ${stepsPerRun} fell back`);
  const seconds: number[] = [];
  let tokens = 0;
  for (let i = 0; i < REPS; i++) {
    const t = performance.now();
    const out = await generatePaths(model, { ...request, stepsPerRun });
    seconds.push((performance.now() - t) / 1000);
    tokens = out.flat().reduce((s, c) => s + c.tokenIds.length, 0);
  }
  return rate(tokens, seconds);
}

/**
 * No KV cache: each step feeds every live row's whole sequence (prompt + tokens so far) with an empty
 * past, batched per prompt, and draws from the last position's logits with the sampler's own rows'
 * streams, so it samples what generatePaths samples.
 */
async function naive(model: GenerationModel, count: number) {
  const sig = model.signature;
  const eos = new Set(model.eosIds);
  const vocab = model.logitsSize;
  const logits = new Float32Array(vocab);
  let tokens = 0;
  const t = performance.now();
  for (const p of prompts().slice(0, count)) {
    const ids = model.tokenizer.encode(p.text, { bos: true });
    let rows = Array.from({ length: N }, (_, i) => ({
      rng: new Rng(deriveSeed('b', p.id, i)),
      seq: [...ids],
    }));
    for (let step = 0; step < NEW_TOKENS && rows.length > 0; step++) {
      const len = rows[0].seq.length;
      const i64 = (f: (r: number, j: number) => number) =>
        new ort.Tensor(
          'int64',
          BigInt64Array.from({ length: rows.length * len }, (_, k) =>
            BigInt(f(Math.floor(k / len), k % len)),
          ),
          [rows.length, len],
        );
      const feeds: Record<string, ort.Tensor> = {
        input_ids: i64((r, j) => rows[r].seq[j]),
        attention_mask: i64(() => 1),
        position_ids: i64((_, j) => j),
      };
      for (const name of sig.pastNames)
        feeds[name] = new ort.Tensor('float32', new Float32Array(0), [
          rows.length,
          sig.kvHeads,
          0,
          sig.headDim,
        ]);
      const out = (await model.session.run(feeds)).logits.data as Float32Array;
      rows = rows.filter((row, r) => {
        logits.set(out.subarray(((r + 1) * len - 1) * vocab, (r + 1) * len * vocab));
        for (let i = model.tokenizer.vocabSize; i < vocab; i++) logits[i] = -Infinity;
        for (let i = 0; i < model.tokenizer.vocabSize; i++) logits[i] *= 1 / TEMPERATURE;
        const { tokenId } = chooseToken(logits, row.rng.next());
        row.seq.push(tokenId);
        tokens++;
        return !eos.has(tokenId);
      });
    }
  }
  return rate(tokens, [(performance.now() - t) / 1000]);
}

type Tjs = typeof import('@huggingface/transformers');

/** New tokens of a generated row: up to and including its first eos, else all of them. */
function realNewTokens(row: bigint[], promptLength: number, eos: Set<number>): number {
  const fresh = row.slice(promptLength).map(Number);
  const end = fresh.findIndex((id) => eos.has(id));
  return end < 0 ? fresh.length : end + 1;
}

async function transformersJs(t: Tjs, dir: string, eos: Set<number>) {
  t.env.allowRemoteModels = false;
  t.env.localModelPath = path.dirname(dir);
  const name = path.basename(dir);
  const tokenizer = await t.AutoTokenizer.from_pretrained(name, { local_files_only: true });
  const model = await t.AutoModelForCausalLM.from_pretrained(name, {
    local_files_only: true,
    dtype: 'fp32',
    device: PROVIDER,
    session_options: { intraOpNumThreads: THREADS, interOpNumThreads: 1 },
  });
  const sampling = { do_sample: true, temperature: TEMPERATURE, top_k: 0, max_new_tokens: NEW_TOKENS };
  type Out = { tolist(): bigint[][] };
  const rowsOf = (out: Out, rows: number) => {
    const list = out.tolist();
    if (list.length !== rows) throw new Error(`transformers.js returned ${list.length} rows, not ${rows}`);
    return list;
  };
  const perPrompt = async () => {
    let tokens = 0;
    for (const p of prompts()) {
      const inputs = tokenizer(Array.from({ length: N }, () => p.text));
      const out = (await model.generate({ ...inputs, ...sampling })) as Out;
      const len = inputs.input_ids.dims[1];
      for (const row of rowsOf(out, N)) tokens += realNewTokens(row, len, eos);
    }
    return tokens;
  };
  const oneBatch = async () => {
    tokenizer.padding_side = 'left';
    const texts = prompts().flatMap((p) => Array.from({ length: N }, () => p.text));
    const inputs = tokenizer(texts, { padding: true });
    const out = (await model.generate({ ...inputs, ...sampling })) as Out;
    const len = inputs.input_ids.dims[1];
    return rowsOf(out, texts.length).reduce((s, row) => s + realNewTokens(row, len, eos), 0);
  };
  await model.generate({ ...tokenizer('warm up'), ...sampling, max_new_tokens: 2 });
  return { batchPerPrompt: perPrompt, allPromptsBatch: oneBatch, dispose: () => model.dispose() };
}

/** Seconds and tokens of one call. */
async function timed(f: () => Promise<number>): Promise<{ seconds: number; tokens: number }> {
  const t0 = performance.now();
  const tokens = await f();
  return { seconds: (performance.now() - t0) / 1000, tokens };
}

async function main(): Promise<void> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'lmsi-bench-sample-'));
  try {
    const config = LlamaConfig.parse({});
    const params = parameterCount(config);
    const dir = createBaseModel({ config, seed: 1, dir: path.join(tmp, 'embedded-random') });
    const model = await loadGenerationModel(dir, { threads: THREADS, provider: PROVIDER });
    const before = await matmulGflops(THREADS, PROVIDER);

    const byStepsPerRun: Record<string, Rate> = {};
    for (const steps of STEPS) {
      byStepsPerRun[steps] = await lmsi(model, steps);
      console.log(`lmsi stepsPerRun ${steps}:`, byStepsPerRun[steps]);
    }
    const naiveRate = await naive(model, NAIVE_PROMPTS);
    console.log('naive:', naiveRate);
    // transformers.js both ways once, then the faster way against the sampler as callers get it (its
    // default steps per run), round by round.
    const tjs = await transformersJs(await import('@huggingface/transformers'), dir, new Set(model.eosIds));
    const probe = {
      batchPerPrompt: await timed(tjs.batchPerPrompt),
      allPromptsBatch: await timed(tjs.allPromptsBatch),
    };
    console.log('transformers.js probe:', probe);
    const perPromptFaster =
      probe.batchPerPrompt.tokens / probe.batchPerPrompt.seconds >=
      probe.allPromptsBatch.tokens / probe.allPromptsBatch.seconds;
    const tjsMode = perPromptFaster
      ? `a batch of ${N} repeats per prompt`
      : `one left-padded batch of ${8 * N} rows`;
    const tjsRun = perPromptFaster ? tjs.batchPerPrompt : tjs.allPromptsBatch;
    const rounds: { lmsi: number; transformersJs: number }[] = [];
    let lmsiTokens = 0;
    let tjsTokens = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const a = await timed(() => lmsiOnce(model));
      const b = await timed(tjsRun);
      lmsiTokens = a.tokens;
      tjsTokens = b.tokens;
      rounds.push({ lmsi: a.tokens / a.seconds, transformersJs: b.tokens / b.seconds });
      console.log(`round ${r + 1}:`, rounds[r]);
    }
    await tjs.dispose();
    const after = await matmulGflops(THREADS, PROVIDER);

    const defaultSteps = SampleOptions.parse({ ...REQUEST, prompts: [] }).stepsPerRun;
    const lmsiRate = rate(
      lmsiTokens,
      rounds.map((x) => lmsiTokens / x.lmsi),
    );
    const tjsBest = {
      mode: tjsMode,
      ...rate(
        tjsTokens,
        rounds.map((x) => tjsTokens / x.transformersJs),
      ),
    };
    const roundRatios = rounds.map((x) => x.lmsi / x.transformersJs);
    const gflops = Math.max(before.best, after.best);
    const medianGflops = Math.max(before.median, after.median);
    const limit = (gflops * 1e9) / (2 * params);
    const result = {
      machine: { ...machine(), ...(PROVIDER === 'cuda' ? { gpu: gpuName() } : {}) },
      provider: PROVIDER,
      params,
      config,
      workload: { prompts: 8, n: N, maxNewTokens: NEW_TOKENS, temperature: TEMPERATURE, threads: THREADS },
      lmsiStepsPerRun: defaultSteps,
      lmsiTokPerSec: lmsiRate.bestTokPerSec,
      lmsiMedianTokPerSec: lmsiRate.medianTokPerSec,
      lmsiByStepsPerRun: byStepsPerRun,
      naiveTokPerSec: naiveRate.bestTokPerSec,
      naive: { ...naiveRate, prompts: NAIVE_PROMPTS },
      transformersJsTokPerSec: tjsBest.bestTokPerSec,
      transformersJsMode: tjsBest.mode,
      transformersJs: {
        probe: Object.fromEntries(
          Object.entries(probe).map(([k, v]) => [k, { ...v, tokPerSec: round(v.tokens / v.seconds) }]),
        ),
        ...tjsBest,
      },
      rounds: rounds.map((x) => ({ lmsi: round(x.lmsi), transformersJs: round(x.transformersJs) })),
      speedupVsTransformersJs: round(lmsiRate.bestTokPerSec / tjsBest.bestTokPerSec, 2),
      medianRoundSpeedupVsTransformersJs: round(median(roundRatios), 2),
      speedupVsNaive: round(lmsiRate.bestTokPerSec / naiveRate.bestTokPerSec, 2),
      matmulGflops: round(gflops, 1),
      medianMatmulGflops: round(medianGflops, 1),
      limitTokPerSec: round(limit),
      fractionOfLimit: round(lmsiRate.bestTokPerSec / limit, 3),
      fractionOfLimitFromMedians: round((lmsiRate.medianTokPerSec * 2 * params) / (medianGflops * 1e9), 3),
    };
    const row = (r: Rate) => `${r.bestTokPerSec} / ${r.medianTokPerSec}`;
    console.table({
      machine: `${result.machine.cpu}, ${result.machine.cores} cores, load ${result.machine.loadAverage[0]}`,
      parameters: params,
      workload: `8 prompts × n ${N} × ≤${NEW_TOKENS} new tokens, T ${TEMPERATURE}, ${THREADS} threads`,
      ...Object.fromEntries(
        Object.entries(byStepsPerRun).map(([k, r]) => [`lmsi, ${k} steps/run tok/s (best / median)`, row(r)]),
      ),
      'naive no-cache loop tok/s': row(naiveRate),
      [`lmsi (default, ${defaultSteps} steps/run) in the rounds tok/s`]: row(lmsiRate),
      [`transformers.js (${tjsMode}) in the rounds tok/s`]: row(tjsBest),
      'speedup vs transformers.js (best / median round)': `${result.speedupVsTransformersJs} / ${result.medianRoundSpeedupVsTransformersJs}`,
      'speedup vs naive': result.speedupVsNaive,
      [`fp32 MatMul ${MATMUL_N}² GFLOP/s (best / median)`]: `${result.matmulGflops} / ${result.medianMatmulGflops}`,
      'limit tok/s (GFLOP/s / 2N)': result.limitTokPerSec,
      'fraction of limit (best / medians)': `${result.fractionOfLimit} / ${result.fractionOfLimitFromMedians}`,
    });
    mkdirSync(path.dirname(OUT), { recursive: true });
    writeFileSync(OUT, JSON.stringify(result, null, 2) + '\n');
    console.log(`wrote ${path.relative(process.cwd(), OUT)}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

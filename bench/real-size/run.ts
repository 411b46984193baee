/**
 * npm run bench:real-size [-- --models=smollm2-135m,qwen2.5-0.5b] [--cases=sample-lmsi,...]
 *                           [--merge] [--table-only] [--rss-limit-gb=16] [--out=bench/results/real-size.json]
 *
 * lmsi side by side with its peers, one run, the same shapes, prompts and data: random-weight
 * checkpoints with the published configurations of SmolLM2-135M and Qwen2.5-0.5B
 * (bench/real-models/make-checkpoints.sh, made if missing; bench/real-size/make-checkpoints.ts where
 * no Python peer runs) on this machine's CPU, or lmsi's cases alone on CUDA (bench/gpu real-size).
 *
 *   sample-lmsi      lmsi's sampler (the engine's graph built from the safetensors, several decode
 *                    steps per run with the draw in the graph)
 *   sample-tjs       transformers.js `generate` on the same graph (bench/real-size/tjs.ts)
 *   sample-torch     Hugging Face transformers' PyTorch `generate` (bench/real-size/torch_side.py)
 *                    — each: 2 GSM8K prompts × m = 16 paths × 32 new tokens at T = 0.7, no top-k,
 *                    one untimed warm-up call, then timed calls; tok/s counts new tokens to eos
 *   sample-lmsi-b1   lmsi at batch 1 (one path, 64 new tokens) against the memory-bound decode rate:
 *                    the bandwidth a batch-1 GEMV gets (bench/machine.ts) over the fp32 weight bytes
 *   finetune-lmsi-lora / finetune-peft     LoRA (rank 8, alpha 16, every projection), AdamW
 *   finetune-lmsi-lora-recompute           lmsi's LoRA with activation recomputation per layer
 *   finetune-lmsi-full / finetune-torch-full  every parameter, AdamW
 *   finetune-lmsi-full-recompute           lmsi's full fine-tuning with recomputation
 *                    — each: batch 4 × 256 tokens of GSM8K train prompt + completion, 4 steps; the
 *                    first step (session creation, allocation) is reported apart, lmsi's last
 *                    (it writes the checkpoint) is left out
 *
 * Every case is a child process whose resident memory is polled from /proc (bench/real-models/child.ts)
 * and killed past --rss-limit-gb ("did not fit"). The Python side runs in the pinned git-ignored venv
 * tmp/venv-hf (tests/fixtures/hf-models/make-fixtures.sh --venv-only). The machine is shared: every case
 * records the load average at its start; compare ratios. Writes the JSON after every case and prints
 * a table.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import * as path from 'node:path';
import { flagArg, listArg, numberArg, stringArg } from '../args';
import { gemvBandwidthGBps, machine } from '../machine';
import { availableBytes, type ChildRun, runChild, runProcess } from '../real-models/child';

const ROOT = path.resolve(__dirname, '..', '..');
const MODELS_DIR = path.join(ROOT, 'tmp', 'real-models');
const WORK = path.join(ROOT, 'tmp', 'real-size');
const PYTHON = path.join(ROOT, 'tmp', 'venv-hf', 'bin', 'python');
const GSM8K = path.resolve(ROOT, '..', 'shared', 'data', 'gsm8k');

const MODELS = ['smollm2-135m', 'qwen2.5-0.5b'];
const CASES = [
  'sample-lmsi',
  'sample-lmsi-b1',
  'sample-tjs',
  'sample-torch',
  'finetune-lmsi-lora',
  'finetune-lmsi-lora-recompute',
  'finetune-peft',
  'finetune-lmsi-full',
  'finetune-lmsi-full-recompute',
  'finetune-torch-full',
] as const;
type Case = (typeof CASES)[number];

const models = listArg('models', MODELS);
const cases = listArg('cases', CASES) as Case[];
for (const c of cases)
  if (!CASES.includes(c)) throw new Error(`unknown case ${c}; cases: ${CASES.join(',')}`);
const OUT = path.resolve(stringArg('out', path.join(ROOT, 'bench', 'results', 'real-size.json')));
const RSS_LIMIT = numberArg('rss-limit-gb', 16) * 1e9;
const THREADS = numberArg('threads', 2);
/** cuda (bench/gpu) runs lmsi's cases on the GPU; the peers' cases are CPU-only, leave them out there. */
const PROVIDER = stringArg('provider', 'cpu') as 'cpu' | 'cuda';

const SAMPLE = { n: 16, maxNewTokens: 32, temperature: 0.7, warmup: 1 };
/** Batch 1 (one path of one prompt), against the memory-bound decode rate. */
const SAMPLE_B1 = { n: 1, maxNewTokens: 64, temperature: 0.7, warmup: 1, reps: 3 };
/** Timed sampling calls per model: one call of the larger model takes minutes on this machine. */
const SAMPLE_REPS: Record<string, number> = { 'smollm2-135m': 2, 'qwen2.5-0.5b': 1 };
const TRAIN = { batchSize: 4, seqLen: 256, steps: 4 };

/** The checkpoint's parameter count, as make-checkpoints.sh recorded it. */
function modelParameters(model: string): number | undefined {
  const file = path.join(MODELS_DIR, model, 'bench-model.json');
  return existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as { parameters: number }).parameters
    : undefined;
}

const gb = (bytes: number) => Math.round(bytes / 1e7) / 100;
const load1 = () => Math.round(loadavg()[0] * 100) / 100;

function jsonLines(file: string, n: number): string[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .slice(0, n);
}

/** The prompts every sampler gets and the prompt/completion lines every trainer gets. */
function prepareData() {
  const dir = path.join(WORK, 'data');
  mkdirSync(dir, { recursive: true });
  const prompts = jsonLines(path.join(GSM8K, 'test.jsonl'), 2).map(
    (l) => `Q: ${(JSON.parse(l) as { question: string }).question}\nA: Let's think step by step.`,
  );
  const training = path.join(dir, 'gsm8k-train-64-prompt-completion.jsonl');
  const lines = jsonLines(path.join(GSM8K, 'train.jsonl'), 64).map((l) => {
    const { question, answer } = JSON.parse(l) as { question: string; answer: string };
    const [rationale, final] = answer.split('####');
    const completion = ` ${rationale.replace(/<<[^>]*>>/g, '').trim()} The answer is ${final.trim()}.`;
    return JSON.stringify({ prompt: `Q: ${question}\nA: Let's think step by step.`, completion });
  });
  writeFileSync(training, `${lines.join('\n')}\n`);
  return { prompts, training };
}

interface CaseRecord {
  ok: boolean;
  seconds: number;
  peakRssGB: number;
  loadAverageAtStart: number;
  didNotFit?: string;
  error?: string;
  [k: string]: unknown;
}

/** What a case's child wrote, with the process's measured peak memory and how it ended. */
function record(run: ChildRun, outFile: string, load: number): CaseRecord {
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(readFileSync(outFile, 'utf8')) as Record<string, unknown>;
  } catch {
    body = {
      ok: false,
      error: run.stderr.trim().split('\n').slice(-3).join(' | ') || `exit ${run.exitCode}`,
    };
  }
  const r: CaseRecord = {
    ok: false,
    ...body,
    seconds: Math.round(run.seconds * 10) / 10,
    peakRssGB: gb(run.peakRssBytes),
    loadAverageAtStart: load,
  };
  if (run.killed) {
    r.ok = false;
    r.didNotFit =
      run.killed.reason === 'timeout'
        ? `timed out after ${r.seconds} s`
        : `killed at ${gb(run.killed.rssBytes)} GB RSS (${run.killed.reason}; ${gb(run.killed.availableBytes)} GB available)`;
  }
  return r;
}

async function runCase(model: string, c: Case, data: ReturnType<typeof prepareData>): Promise<CaseRecord> {
  const dir = path.join(MODELS_DIR, model);
  const graphCacheDir = path.join(MODELS_DIR, '.graphs', model);
  const outFile = path.join(WORK, `${model}-${c}.json`);
  rmSync(outFile, { force: true });
  const limits = { timeoutMs: 1800_000, rssLimitBytes: RSS_LIMIT, minAvailableBytes: 1.5e9 };
  const sample = { ...SAMPLE, prompts: data.prompts, reps: SAMPLE_REPS[model] ?? 1, threads: THREADS };
  const train = { ...TRAIN, data: data.training, threads: THREADS };
  const phase = path.join(ROOT, 'bench', 'real-models', 'phase.ts');
  const torch = path.join(__dirname, 'torch_side.py');
  const load = load1();
  let run: ChildRun;
  switch (c) {
    case 'sample-lmsi':
    case 'sample-lmsi-b1': {
      const s = c === 'sample-lmsi' ? sample : { ...SAMPLE_B1, prompts: data.prompts.slice(0, 1) };
      const args = {
        model: dir,
        graphCacheDir,
        fresh: false,
        threads: THREADS,
        provider: PROVIDER,
        sample: s,
      };
      run = await runChild([phase, 'load', JSON.stringify(args), outFile], limits, process.env);
      break;
    }
    case 'sample-tjs':
      run = await runChild(
        [
          path.join(__dirname, 'tjs.ts'),
          JSON.stringify({ ...sample, model: dir, graphCacheDir, workDir: path.join(WORK, 'tjs') }),
          outFile,
        ],
        limits,
        process.env,
      );
      break;
    case 'sample-torch':
      run = await runProcess(
        PYTHON,
        [torch, 'sample', JSON.stringify({ ...sample, model: dir }), outFile],
        limits,
        process.env,
      );
      break;
    case 'finetune-lmsi-lora':
    case 'finetune-lmsi-lora-recompute':
    case 'finetune-lmsi-full':
    case 'finetune-lmsi-full-recompute':
      run = await runChild(
        [
          phase,
          'finetune',
          JSON.stringify({
            ...train,
            model: dir,
            outDir: path.join(WORK, `${model}-finetune`),
            method: c.startsWith('finetune-lmsi-full') ? 'full' : 'lora',
            recompute: c.endsWith('-recompute'),
            provider: PROVIDER,
          }),
          outFile,
        ],
        limits,
        process.env,
      );
      break;
    case 'finetune-peft':
    case 'finetune-torch-full':
      run = await runProcess(
        PYTHON,
        [
          torch,
          'finetune',
          JSON.stringify({ ...train, model: dir, method: c === 'finetune-peft' ? 'lora' : 'full' }),
          outFile,
        ],
        limits,
        process.env,
      );
      break;
  }
  return record(run, outFile, load);
}

// ---------------------------------------------------------------------------------------------------
// Summary and table

const r2 = (x: number) => (Number.isFinite(x) ? Math.round(x * 100) / 100 : null);

/** Best tok/s of a sampling case (reps of a sampler), null when it did not run to the end. */
function sampleRate(r: CaseRecord | undefined): number | null {
  if (!r?.ok) return null;
  const reps = ((r.sample as { reps?: { tokensPerSecond: number }[] } | undefined)?.reps ?? r.reps) as
    { tokensPerSecond: number }[] | undefined;
  return reps && reps.length > 0 ? Math.max(...reps.map((x) => x.tokensPerSecond)) : null;
}

/** Best (shortest) step seconds of a fine-tuning case, the first step left out: the least disturbed by a shared machine, as the samplers' best call. */
function stepSeconds(r: CaseRecord | undefined): number | null {
  if (!r?.ok) return null;
  const steps = (r.stepSeconds as number[] | undefined) ?? [];
  return steps.length > 0 ? r2(Math.min(...steps)) : null;
}

/** The memory-bound batch-1 decode rate: every fp32 weight read once per token. */
const roofline = (parameters: number | undefined) =>
  BANDWIDTH && parameters ? r2((BANDWIDTH.best * 1e9) / (4 * parameters)) : null;
let BANDWIDTH: { best: number; median: number } | null = null;

function summarize(m: Record<string, CaseRecord>, parameters?: number) {
  const b1 = sampleRate(m['sample-lmsi-b1']);
  const limit = roofline(parameters);
  const s = {
    batch1: {
      lmsiTokPerSec: b1,
      memoryBoundTokPerSec: limit,
      fractionOfMemoryBound: b1 !== null && limit ? r2(b1 / limit) : null,
    },
    sampleTokPerSec: {
      lmsi: sampleRate(m['sample-lmsi']),
      transformersJs: sampleRate(m['sample-tjs']),
      torch: sampleRate(m['sample-torch']),
    },
    loraStepSeconds: {
      lmsi: stepSeconds(m['finetune-lmsi-lora']),
      lmsiRecompute: stepSeconds(m['finetune-lmsi-lora-recompute']),
      peft: stepSeconds(m['finetune-peft']),
    },
    fullStepSeconds: {
      lmsi: stepSeconds(m['finetune-lmsi-full']),
      lmsiRecompute: stepSeconds(m['finetune-lmsi-full-recompute']),
      torch: stepSeconds(m['finetune-torch-full']),
    },
    peakRssGB: Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v.peakRssGB])),
  };
  const ratio = (a: number | null, b: number | null) =>
    a !== null && b !== null && b > 0 ? r2(a / b) : null;
  return {
    ...s,
    samplerVsTransformersJs: ratio(s.sampleTokPerSec.lmsi, s.sampleTokPerSec.transformersJs),
    samplerVsTorchGenerate: ratio(s.sampleTokPerSec.lmsi, s.sampleTokPerSec.torch),
    // > 1: lmsi's step is faster.
    loraStepVsPeft: ratio(s.loraStepSeconds.peft, s.loraStepSeconds.lmsi),
    loraRecomputeStepVsPeft: ratio(s.loraStepSeconds.peft, s.loraStepSeconds.lmsiRecompute),
    fullStepVsTorch: ratio(s.fullStepSeconds.torch, s.fullStepSeconds.lmsi),
    fullRecomputeStepVsTorch: ratio(s.fullStepSeconds.torch, s.fullStepSeconds.lmsiRecompute),
  };
}

function table(results: Record<string, Record<string, CaseRecord>>): string {
  const rows: string[][] = [['', ...Object.keys(results)]];
  const sums = Object.entries(results).map(([k, m]) => summarize(m, modelParameters(k)));
  const cell = (f: (s: ReturnType<typeof summarize>, m: Record<string, CaseRecord>) => string) =>
    Object.values(results).map((m, i) => f(sums[i], m));
  const mem = (m: Record<string, CaseRecord>, c: Case) => {
    const r = m[c];
    return r
      ? r.ok
        ? `${r.peakRssGB} GB`
        : `did not fit (${r.didNotFit ?? r.error ?? 'failed'})`
      : 'not run';
  };
  const v = (x: number | null, unit = '') => (x === null ? '—' : `${x}${unit}`);
  rows.push(['sample tok/s: lmsi', ...cell((s) => v(s.sampleTokPerSec.lmsi))]);
  rows.push(['sample tok/s: transformers.js', ...cell((s) => v(s.sampleTokPerSec.transformersJs))]);
  rows.push(['sample tok/s: PyTorch generate', ...cell((s) => v(s.sampleTokPerSec.torch))]);
  rows.push(['lmsi ÷ transformers.js (goal ≥ 3)', ...cell((s) => v(s.samplerVsTransformersJs, '×'))]);
  rows.push(['lmsi ÷ PyTorch (goal ≥ 1.5)', ...cell((s) => v(s.samplerVsTorchGenerate, '×'))]);
  rows.push(['batch 1 tok/s: lmsi', ...cell((s) => v(s.batch1.lmsiTokPerSec))]);
  rows.push(['batch 1 memory-bound tok/s', ...cell((s) => v(s.batch1.memoryBoundTokPerSec))]);
  rows.push([
    'lmsi ÷ memory-bound (goal on GPU ≥ 0.5)',
    ...cell((s) => v(s.batch1.fractionOfMemoryBound, '×')),
  ]);
  rows.push(['LoRA step s: lmsi', ...cell((s) => v(s.loraStepSeconds.lmsi))]);
  rows.push(['LoRA step s: lmsi, recompute', ...cell((s) => v(s.loraStepSeconds.lmsiRecompute))]);
  rows.push(['LoRA step s: PyTorch + PEFT', ...cell((s) => v(s.loraStepSeconds.peft))]);
  rows.push(['LoRA speed lmsi ÷ PEFT (goal ≥ 1)', ...cell((s) => v(s.loraStepVsPeft, '×'))]);
  rows.push(['LoRA speed lmsi, recompute ÷ PEFT', ...cell((s) => v(s.loraRecomputeStepVsPeft, '×'))]);
  rows.push(['full step s: lmsi', ...cell((s) => v(s.fullStepSeconds.lmsi))]);
  rows.push(['full step s: lmsi, recompute', ...cell((s) => v(s.fullStepSeconds.lmsiRecompute))]);
  rows.push(['full step s: PyTorch', ...cell((s) => v(s.fullStepSeconds.torch))]);
  rows.push(['full speed lmsi ÷ PyTorch', ...cell((s) => v(s.fullStepVsTorch, '×'))]);
  rows.push(['full speed lmsi, recompute ÷ PyTorch', ...cell((s) => v(s.fullRecomputeStepVsTorch, '×'))]);
  for (const c of CASES) rows.push([`peak RSS ${c}`, ...cell((_, m) => mem(m, c))]);
  return rows
    .map((r) => `| ${r.join(' | ')} |`)
    .join('\n')
    .replace(/\n/, `\n|${' --- |'.repeat(rows[0].length)}\n`);
}

function write(
  results: Record<string, Record<string, CaseRecord>>,
  startMachine: ReturnType<typeof machine>,
) {
  const out = {
    date: new Date().toISOString(),
    machine: {
      ...startMachine,
      provider: PROVIDER,
      gemvBandwidthGBps: BANDWIDTH && { best: r2(BANDWIDTH.best), median: r2(BANDWIDTH.median) },
      loadAverageAtEnd: loadavg().map((l) => Math.round(l * 100) / 100),
    },
    workload: {
      sample: { ...SAMPLE, prompts: 2, reps: SAMPLE_REPS, topK: 0, threads: THREADS },
      sampleBatch1: { ...SAMPLE_B1, prompts: 1 },
      train: {
        ...TRAIN,
        lora: { rank: 8, alpha: 16, dropout: 0, targetModules: 'q,k,v,o,gate,up,down' },
        optimizer: 'AdamW lr 1e-4',
      },
      note: 'random-weight checkpoints with the published configurations (bench/real-models/make-checkpoints.sh); float32 compute on every side; tok/s = new tokens to eos / wall seconds of the timed call, prefill included; tok/s and step seconds are the best of the timed calls and steps after the first (the least disturbed on a shared machine) (lmsi: its checkpoint-writing last step left out)',
    },
    models: Object.fromEntries(
      Object.entries(results).map(([k, m]) => [
        k,
        { parameters: modelParameters(k), summary: summarize(m, modelParameters(k)), cases: m },
      ]),
    ),
  };
  mkdirSync(path.dirname(OUT), { recursive: true });
  writeFileSync(OUT, `${JSON.stringify(out, null, 2)}\n`);
}

async function main() {
  const previous = existsSync(OUT)
    ? (JSON.parse(readFileSync(OUT, 'utf8')) as {
        machine: { gemvBandwidthGBps?: { best: number; median: number } | null };
        models: Record<string, { cases: Record<string, CaseRecord> }>;
      })
    : null;
  if (previous && (flagArg('merge') || flagArg('table-only')))
    BANDWIDTH = previous.machine.gemvBandwidthGBps ?? null;
  const results: Record<string, Record<string, CaseRecord>> = {};
  if (previous && (flagArg('merge') || flagArg('table-only')))
    for (const [k, m] of Object.entries(previous.models)) results[k] = { ...m.cases };
  if (flagArg('table-only')) {
    console.log(table(results));
    return;
  }
  // The Python peers need the pinned venv (PyPI); without them (bench/gpu) nothing needs Python.
  const python = cases.some(
    (c) => c === 'sample-torch' || c === 'finetune-peft' || c === 'finetune-torch-full',
  );
  const sh = (script: string, args: string[]) => {
    const r = spawnSync(
      script.endsWith('.ts') ? process.execPath : 'bash',
      [...(script.endsWith('.ts') ? ['--import', 'tsx'] : []), path.join(ROOT, script), ...args],
      { stdio: 'inherit' },
    );
    if (r.status !== 0) throw new Error(`${script} failed`);
  };
  if (python && !existsSync(PYTHON)) sh('tests/fixtures/hf-models/make-fixtures.sh', ['--venv-only']);
  const missing = models.filter((m) => !existsSync(path.join(MODELS_DIR, m, '.complete')));
  if (missing.length > 0)
    sh(python ? 'bench/real-models/make-checkpoints.sh' : 'bench/real-size/make-checkpoints.ts', missing);
  mkdirSync(WORK, { recursive: true });
  const data = prepareData();
  const startMachine = machine();
  BANDWIDTH ??= await gemvBandwidthGBps(THREADS, PROVIDER);
  console.log(`batch-1 GEMV bandwidth: ${r2(BANDWIDTH.best)} GB/s best, ${r2(BANDWIDTH.median)} median`);
  for (const model of models) {
    results[model] ??= {};
    for (const c of cases) {
      console.log(
        `${new Date().toISOString()} ${model} ${c} (load ${load1()}, ${gb(availableBytes())} GB available)`,
      );
      const r = await runCase(model, c, data);
      results[model][c] = r;
      console.log(
        `  ${r.ok ? 'ok' : `FAILED: ${r.didNotFit ?? r.error}`} in ${r.seconds} s, peak ${r.peakRssGB} GB`,
      );
      write(results, startMachine);
    }
  }
  console.log(table(results));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});

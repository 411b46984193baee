/**
 * npm run bench:train-memory [-- --cases=full-v32k-b2x256,...] [--steps=4] [--rss-limit-gb=16]
 *                               [--malloc-mmap-threshold=BYTES] [--out=bench/results/train-memory.json]
 *
 * Peak resident memory of fine-tuning, per step, at real shapes: a random-weight model with
 * SmolLM2-135M's shape (30 layers, width 576, 9 heads / 3 key-value heads, MLP 1 536, tied embedding)
 * and a 32 000- or its own 49 152-token vocabulary, full fine-tuning and LoRA, at batch 2-4 × 128-256
 * tokens. Each case is a child process running engine/train's fineTune (checkpoint load, sessions,
 * `--steps` steps, the final checkpoint); the child resets its peak (VmHWM, /proc/self/clear_refs)
 * after every step, so each step's peak is its own. The first step's peak also holds the load and
 * the session builds, the last one's the final checkpoint's write: the step peak is the largest of
 * the steps between. The parent polls the child's RSS and kills it past --rss-limit-gb.
 *
 * Cases named with --cases replace their records in --out and leave the others.
 *
 * bytes/param = peak RSS / parameters; the state (weights, gradients, two moments) is 16 of them.
 *
 * --malloc-mmap-threshold runs the children with glibc's MALLOC_MMAP_THRESHOLD_ (fixed, so freed
 * activations go back to the system instead of staying in malloc's heap; docs/training-memory.md).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { saveCheckpoint } from '../engine/checkpoint';
import { LlamaConfig, paramSpecs, parameterCount } from '../engine/model';
import type { Params } from '../engine/model/params';
import { buildCharTokenizerFiles } from '../engine/tokenizer/char-tokenizer';
import { fineTune } from '../engine/train';
import { Rng } from '../base/rng';
import { flagArg, listArg, numberArg, stringArg } from './args';
import { machine } from './machine';
import { availableBytes, runChild } from './real-models/child';

const ROOT = path.resolve(__dirname, '..');
const WORK = path.join(ROOT, 'tmp', 'train-memory');

/** SmolLM2-135M's config.json, in the engine's names. */
const smollm2 = (vocabSize: number): Partial<LlamaConfig> => ({
  vocabSize,
  dModel: 576,
  nLayers: 30,
  nHeads: 9,
  nKvHeads: 3,
  dFF: 1536,
  maxSeqLen: 2048,
  ropeTheta: 100000,
  tieEmbeddings: true,
});

interface Case {
  name: string;
  vocab: number;
  method: 'full' | 'lora';
  batch: number;
  seqLen: number;
  /** Activation recomputation per layer (training.recompute). */
  recompute?: boolean;
}

const CASES: Case[] = [
  { name: 'full-v32k-b2x256', vocab: 32000, method: 'full', batch: 2, seqLen: 256 },
  { name: 'full-v32k-b4x128', vocab: 32000, method: 'full', batch: 4, seqLen: 128 },
  { name: 'full-v32k-b4x256', vocab: 32000, method: 'full', batch: 4, seqLen: 256 },
  {
    name: 'full-v32k-b4x256-recompute',
    vocab: 32000,
    method: 'full',
    batch: 4,
    seqLen: 256,
    recompute: true,
  },
  { name: 'full-v49k-b2x256', vocab: 49152, method: 'full', batch: 2, seqLen: 256 },
  { name: 'lora-v32k-b2x256', vocab: 32000, method: 'lora', batch: 2, seqLen: 256 },
  { name: 'lora-v32k-b4x256', vocab: 32000, method: 'lora', batch: 4, seqLen: 256 },
];

const gb = (b: number) => Math.round(b / 1e7) / 100;

function status(): { rss: number; hwm: number } {
  const s = readFileSync('/proc/self/status', 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)![1]) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}
/** Resets VmHWM to the current RSS (Linux 4.0+). */
const resetPeak = () => writeFileSync('/proc/self/clear_refs', '5');

/** A random model of the case's vocabulary, written once (the char tokenizer: its ids fit any vocab). */
function makeModel(vocab: number): string {
  const dir = path.join(WORK, `smollm2-135m-v${vocab}`);
  if (existsSync(path.join(dir, 'config.json'))) return dir;
  const config = LlamaConfig.parse(smollm2(vocab));
  const rng = new Rng(vocab);
  const params: Params = new Map();
  for (const s of paramSpecs(config)) {
    const a = new Float32Array(s.shape.reduce((x, y) => x * y, 1));
    if (s.init === 'ones') a.fill(1);
    else if (s.init === 'normal') for (let i = 0; i < a.length; i++) a[i] = (rng.next() - 0.5) * 0.07;
    params.set(s.name, a);
  }
  saveCheckpoint(dir, { config, params, tokenizer: buildCharTokenizerFiles(), onnx: false });
  return dir;
}

/** Word problems long enough that packed rows fill up. */
function examples(n: number): { prompt: string; completion: string }[] {
  const rng = new Rng(5);
  return Array.from({ length: n }, () => {
    const [a, b] = [rng.int(10, 999), rng.int(10, 999)];
    return {
      prompt: `Q: A shop had ${a} apples and received ${b} more in the morning. How many apples does it have now?\nA:`,
      completion: ` It had ${a}, then ${b} more came: ${a} + ${b} = ${a + b}. The answer is ${a + b}.`,
    };
  });
}

/** The child: one case through fineTune, its peaks on stdout as one JSON line. */
async function child(c: Case, steps: number): Promise<void> {
  const from = makeModel(c.vocab);
  const outDir = path.join(WORK, `run-${c.name}`);
  rmSync(outDir, { recursive: true, force: true });
  const base = status().rss;
  resetPeak();
  const perStep: { step: number; seconds: number; peakBytes: number; rssBytes: number }[] = [];
  let t = performance.now();
  await fineTune({
    from,
    outDir,
    examples: examples(400),
    config: {
      steps,
      learningRate: 1e-4,
      warmupSteps: 0,
      batchSize: c.batch,
      seqLen: c.seqLen,
      checkpointEvery: steps,
      seed: 'train-memory',
      method: c.method,
      recompute: c.recompute ?? false,
    },
    onProgress: (p) => {
      const s = status();
      perStep.push({
        step: p.step,
        seconds: Math.round(performance.now() - t) / 1000,
        peakBytes: s.hwm,
        rssBytes: s.rss,
      });
      resetPeak();
      t = performance.now();
    },
  });
  rmSync(outDir, { recursive: true, force: true });
  process.stdout.write(`${JSON.stringify({ baseBytes: base, perStep })}\n`);
}

async function main(): Promise<void> {
  const childCase = stringArg('case', '');
  const steps = numberArg('steps', 4);
  if (childCase) return child(JSON.parse(childCase) as Case, steps);

  const names = listArg(
    'cases',
    CASES.map((c) => c.name),
  );
  const limit = numberArg('rss-limit-gb', 16) * 1e9;
  const out = stringArg('out', path.join(ROOT, 'bench', 'results', 'train-memory.json'));
  const mmapThreshold = stringArg('malloc-mmap-threshold', '');
  const env = mmapThreshold ? { ...process.env, MALLOC_MMAP_THRESHOLD_: mmapThreshold } : process.env;
  mkdirSync(WORK, { recursive: true });
  // Cases run again replace their own records; the others of the file stay.
  const results: Record<string, unknown>[] = existsSync(out)
    ? (JSON.parse(readFileSync(out, 'utf8')) as { cases: Record<string, unknown>[] }).cases.filter(
        (r) => !names.includes(String(r.name)),
      )
    : [];
  const started = { machine: machine() };
  for (const name of names) {
    const c = CASES.find((x) => x.name === name);
    if (!c) throw new Error(`unknown case ${name}; cases: ${CASES.map((x) => x.name).join(',')}`);
    // The model is written by its own process, so its making does not count in the case's peak.
    const made = spawnSync(
      process.execPath,
      ['--import', 'tsx', __filename, `--case=${JSON.stringify({ ...c, method: 'none' })}`, '--make'],
      { stdio: 'inherit' },
    );
    if (made.status !== 0) throw new Error(`making the ${c.vocab}-token model failed`);
    const loadBefore = loadavg().map((l) => Math.round(l * 100) / 100);
    const run = await runChild(
      [__filename, `--case=${JSON.stringify(c)}`, `--steps=${steps}`],
      { timeoutMs: 1200_000, rssLimitBytes: limit, minAvailableBytes: 1.5e9 },
      env,
    );
    const params = parameterCount(LlamaConfig.parse(smollm2(c.vocab)));
    const record: Record<string, unknown> = {
      ...c,
      ...(mmapThreshold ? { mallocMmapThreshold: Number(mmapThreshold) } : {}),
      date: new Date().toISOString(),
      params,
      steps,
      loadAverageBefore: loadBefore,
      loadAverageAfter: loadavg().map((l) => Math.round(l * 100) / 100),
      polledPeakGB: gb(run.peakRssBytes),
    };
    if (run.exitCode !== 0 || run.killed) {
      record.failed = run.killed
        ? `killed (${run.killed.reason}) at ${gb(run.killed.rssBytes)} GB`
        : run.stderr.slice(-2000);
    } else {
      const r = JSON.parse(run.stdout.trim().split('\n').pop()!) as {
        baseBytes: number;
        perStep: { step: number; seconds: number; peakBytes: number; rssBytes: number }[];
      };
      const middle = r.perStep.slice(1, -1);
      const stepPeak = Math.max(...middle.map((s) => s.peakBytes));
      Object.assign(record, {
        processBaseGB: gb(r.baseBytes),
        stepPeakGB: gb(stepPeak),
        stepBytesPerParam: Math.round((stepPeak / params) * 10) / 10,
        /** What the step holds beyond the process's start and the 16 bytes/param of state. */
        beyondStateGB: gb(stepPeak - r.baseBytes - (c.method === 'full' ? 16 : 4) * params),
        firstStepPeakGB: gb(r.perStep[0].peakBytes),
        lastStepAndSavePeakGB: gb(r.perStep[r.perStep.length - 1].peakBytes),
        stepSeconds: middle.map((s) => s.seconds),
        perStep: r.perStep.map((s) => ({ ...s, peakGB: gb(s.peakBytes), rssGB: gb(s.rssBytes) })),
      });
    }
    results.push(record);
    results.sort((a, b) => order(String(a.name)) - order(String(b.name)));
    writeFileSync(out, `${JSON.stringify({ ...started, cases: results }, null, 2)}\n`);
    console.log(JSON.stringify(record));
  }
  printTable(results);
  console.log(`machine available memory now ${gb(availableBytes())} GB; wrote ${path.relative(ROOT, out)}`);
}

const order = (name: string) => CASES.findIndex((c) => c.name === name);

function printTable(rows: Record<string, unknown>[]): void {
  const head = [
    'case',
    'params',
    'step peak GB',
    'B/param',
    'beyond state GB',
    'first step GB',
    'last+save GB',
    's/step',
  ];
  const lines = rows.map((r) =>
    r.failed
      ? [String(r.name), String(r.params), `failed: ${(r.failed as string).slice(0, 60)}`]
      : [
          String(r.name),
          `${(Number(r.params) / 1e6).toFixed(1)}M`,
          String(r.stepPeakGB),
          String(r.stepBytesPerParam),
          String(r.beyondStateGB),
          String(r.firstStepPeakGB),
          String(r.lastStepAndSavePeakGB),
          (r.stepSeconds as number[]).map((s) => s.toFixed(1)).join(' '),
        ],
  );
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const fmt = (l: string[]) => l.map((x, i) => x.padEnd(widths[i])).join('  ');
  console.log(fmt(head));
  for (const l of lines) console.log(fmt(l));
}

if (flagArg('make')) makeModel((JSON.parse(stringArg('case', '{}')) as Case).vocab);
else
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });

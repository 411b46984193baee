/**
 * npm run bench:sample-shards [-- --questions 200]
 *
 * How fast a round's sampling runs on this machine, as the activities do it: the demo's base model,
 * its unlabeled pool's first questions under the zero-shot CoT prompt, m = 16, T = 0.7, maxNewTokens
 * 160, stop "\n\n". Four ways, the same samples each (checked: every token of every path):
 *
 * - 8 prompts per sampler call, 2 threads: what the sampling activity did before (promptsPerCall 8);
 * - all prompts in one call, 2 threads (the sampler admits equal-length prompts together, so fewer
 *   prompts per call means smaller batches; the activity sorts a shard by length, then calls 8 at a
 *   time, to persist questions as they finish);
 * - all prompts in one call, 1 thread;
 * - two processes of 1 thread, half the prompts each: the demo's two accelerator workers, one shard
 *   each (onnxruntime runs on the calling thread, so one process uses one core);
 * - the sampling activity as it is: prompts ordered by their token count, then 8 per call, on 2
 *   threads in one process and in the demo's two processes of 1 thread.
 *
 * Prints a table and writes bench/results/sample-shards.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { flagArg, numberArg } from './args';
import { machine } from './machine';
import { DEMO_RECIPE } from '../embedded';
import { baseModel, ROOT } from '../demo/session';
import { loadGenerationModel, releaseSessions, generatePaths } from '../engine/generate';
import { zeroShotCotPrompt } from '../method/formats';
import { arith } from '../method/tasks/arith';

const SAMPLING = { n: 16, temperature: 0.7, maxNewTokens: 160, stop: ['\n\n'], seed: 'bench/sample-shards' };

interface Run {
  seconds: number;
  tokens: number;
  /** sha256 over every path's token ids, in question order. */
  digest: string;
}

async function prompts(): Promise<{ modelDir: string; prompts: { id: string; text: string }[] }> {
  const base = await baseModel(DEMO_RECIPE);
  const { questions } = await arith.loadQuestions(base.data.unlabeled);
  const count = numberArg('questions', 200);
  const modelDir = base.modelDir;
  return {
    modelDir,
    prompts: questions.slice(0, count).map((q) => ({ id: q.id, text: zeroShotCotPrompt(arith, q) })),
  };
}

type Model = Awaited<ReturnType<typeof loadGenerationModel>>;

/**
 * Samples `ps` in calls of `perCall` prompts, in the given order or (`sorted`) fewest prompt tokens
 * first as activities/sample-shard.ts orders a shard; token ids per question, in `ps` order.
 */
async function sampleCalls(
  model: Model,
  ps: { id: string; text: string }[],
  perCall: number,
  sorted: boolean,
) {
  const order = sorted
    ? ps
        .map((p) => ({ p, tokens: model.tokenizer.encode(p.text, { bos: true }).length }))
        .sort((a, b) => a.tokens - b.tokens)
        .map(({ p }) => p)
    : ps;
  const byId = new Map<string, number[][]>();
  for (let i = 0; i < order.length; i += perCall) {
    const chunk = order.slice(i, i + perCall);
    const out = await generatePaths(model, { ...SAMPLING, prompts: chunk });
    out.forEach((paths, k) =>
      byId.set(
        chunk[k].id,
        paths.map((p) => p.tokenIds),
      ),
    );
  }
  return ps.map((p) => byId.get(p.id)!);
}

async function sample(
  modelDir: string,
  ps: { id: string; text: string }[],
  threads: number,
  perCall: number,
  sorted = false,
) {
  const model = await loadGenerationModel(modelDir, { provider: 'cpu', threads });
  await generatePaths(model, { ...SAMPLING, prompts: ps.slice(0, 2), maxNewTokens: 4 }); // builds the sessions
  const t0 = performance.now();
  const ids = await sampleCalls(model, ps, perCall, sorted);
  const seconds = (performance.now() - t0) / 1000;
  await releaseSessions();
  return { seconds, ids };
}

const summarize = (seconds: number, ids: number[][][]): Run => ({
  seconds,
  tokens: ids.flat().reduce((s, p) => s + p.length, 0),
  digest: createHash('sha256').update(JSON.stringify(ids)).digest('hex'),
});

/** Child mode: sample the prompts at `--part=k` of 2 on one thread, print seconds and ids as JSON. */
async function child(): Promise<void> {
  const { modelDir, prompts: ps } = await prompts();
  const part = numberArg('part', 0);
  const half = Math.ceil(ps.length / 2);
  const mine = ps.slice(part * half, (part + 1) * half);
  // Both children start sampling together: each waits for the go line on stdin.
  const model = await loadGenerationModel(modelDir, { provider: 'cpu', threads: 1 });
  await generatePaths(model, { ...SAMPLING, prompts: mine.slice(0, 2), maxNewTokens: 4 });
  process.stdout.write('ready\n');
  await new Promise((resolve) => process.stdin.once('data', resolve));
  const t0 = performance.now();
  const perCall = numberArg('per-call', mine.length);
  const ids = await sampleCalls(model, mine, perCall, flagArg('sorted'));
  const seconds = (performance.now() - t0) / 1000;
  const line = `${JSON.stringify({ seconds, ids })}\n`;
  // A pipe is written asynchronously: exit only once the line is out.
  process.stdout.write(line, () => process.exit(0));
}

/** The child's stdout as lines, one promise per line in order. */
function lineReader(c: ChildProcess): () => Promise<string> {
  let buf = '';
  const queued: string[] = [];
  const waiting: { resolve: (line: string) => void; reject: (e: Error) => void }[] = [];
  c.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const w = waiting.shift();
      if (w) w.resolve(line);
      else queued.push(line);
    }
  });
  let exited: Error | null = null;
  c.once('exit', (code) => {
    exited = new Error(`sample-shards child exited (${code}) before its results`);
    for (const w of waiting.splice(0)) w.reject(exited);
  });
  return () =>
    queued.length > 0
      ? Promise.resolve(queued.shift()!)
      : exited
        ? Promise.reject(exited)
        : new Promise((resolve, reject) => waiting.push({ resolve, reject }));
}

/** The demo's two accelerator workers, a shard each; `perCall` and `sorted` as in sampleCalls. */
async function twoProcesses(perCall?: number, sorted = false): Promise<Run> {
  const tsx = path.join(ROOT, 'node_modules', '.bin', 'tsx');
  const args = [
    `--questions=${numberArg('questions', 200)}`,
    ...(perCall === undefined ? [] : [`--per-call=${perCall}`]),
    ...(sorted ? ['--sorted'] : []),
  ];
  const children = [0, 1].map((part) =>
    spawn(tsx, [__filename, '--child', `--part=${part}`, ...args], { stdio: ['pipe', 'pipe', 'inherit'] }),
  );
  const next = children.map(lineReader);
  await Promise.all(next.map((n) => n())); // both ready
  const t0 = performance.now();
  children.forEach((c) => c.stdin.write('go\n'));
  const outs = (await Promise.all(next.map((n) => n()))).map(
    (line) => JSON.parse(line) as { seconds: number; ids: number[][][] },
  );
  const seconds = (performance.now() - t0) / 1000;
  return summarize(seconds, [...outs[0].ids, ...outs[1].ids]);
}

async function main(): Promise<void> {
  if (flagArg('child')) return child();
  const { modelDir, prompts: ps } = await prompts();
  const rows: { way: string; threads: number; processes: number; promptsPerCall: number; run: Run }[] = [];
  const add = async (way: string, threads: number, perCall: number, sorted = false) => {
    const r = await sample(modelDir, ps, threads, perCall, sorted);
    rows.push({ way, threads, processes: 1, promptsPerCall: perCall, run: summarize(r.seconds, r.ids) });
  };
  await add('8 prompts per call (before)', 2, 8);
  await add('one call', 2, ps.length);
  await add('one call, 1 thread', 1, ps.length);
  rows.push({
    way: 'two processes × 1 thread (the demo)',
    threads: 1,
    processes: 2,
    promptsPerCall: Math.ceil(ps.length / 2),
    run: await twoProcesses(),
  });
  await add('by token count, 8 per call (the activity now)', 2, 8, true);
  rows.push({
    way: 'two processes × 1 thread, by token count, 8 per call (the demo now)',
    threads: 1,
    processes: 2,
    promptsPerCall: 8,
    run: await twoProcesses(8, true),
  });
  const reference = rows[0].run;
  const sameSamples = rows.every((r) => r.run.digest === reference.digest);
  const table = rows.map((r) => ({
    way: r.way,
    threads: r.threads,
    processes: r.processes,
    promptsPerCall: r.promptsPerCall,
    seconds: Math.round(r.run.seconds * 10) / 10,
    tokens: r.run.tokens,
    tokensPerSec: Math.round(r.run.tokens / r.run.seconds),
    speedup: Math.round((reference.seconds / r.run.seconds) * 100) / 100,
  }));
  const out = {
    machine: machine(),
    date: new Date().toISOString(),
    workload: { questions: ps.length, ...SAMPLING, model: path.relative(ROOT, modelDir) },
    sameSamples,
    rows: table,
  };
  console.table(table);
  console.log(`same samples in every way: ${sameSamples}`);
  const file = path.join(ROOT, 'bench/results/sample-shards.json');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  console.log(`wrote ${path.relative(ROOT, file)}`);
  if (!sameSamples) process.exitCode = 1;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});

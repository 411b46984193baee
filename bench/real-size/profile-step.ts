/**
 * npx tsx bench/real-size/profile-step.ts [--model=qwen2.5-0.5b] [--method=lora|full] [--recompute]
 *                                         [--head-chunk-rows=N] [--steps=2] [--out=FILE.json]
 *
 * Where a training step's time goes: one step graph at a published shape (random weights, batch
 * 4 × 256 as bench/real-size runs it), run under onnxruntime's profiler, its node times summed by
 * operator (and the LM head's apart from the decoder's). The first run (allocation) is left out.
 * A developer's tool for the real-size note, not a bench with a peer: it prints a table and writes
 * the sums to --out.
 */
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { Rng } from '../../base/rng';
import { parseConfigJson } from '../../engine/checkpoint/model-config';
import {
  LoraConfig,
  TRAIN_IO,
  buildTrainingGraph,
  headChunkRows,
  paramSpecs,
  trainableSpecs,
} from '../../engine/model';
import { toBytes } from '../../engine/onnx/serialize';
import { flagArg, numberArg, stringArg } from '../args';

const model = stringArg('model', 'qwen2.5-0.5b');
const method = stringArg('method', 'lora');
const recompute = flagArg('recompute');
const steps = numberArg('steps', 2);
/** --no-profile: time and peak memory alone (the profiler holds its events in memory). */
const profile = !flagArg('no-profile');
const [B, T] = [4, 256];

const configFile = path.join(__dirname, 'configs', `${model}.json`);
const config = parseConfigJson(JSON.parse(readFileSync(configFile, 'utf8')), configFile);
const lora =
  method === 'lora'
    ? LoraConfig.parse({
        rank: 8,
        alpha: 16,
        targetModules: ['q', 'k', 'v', 'o', 'gate', 'up', 'down'],
      })
    : undefined;
const requested = numberArg('head-chunk-rows');
const rows = requested ?? headChunkRows(config, B * T, 'float32');

async function main() {
  const graph = buildTrainingGraph(config, {
    batchSize: B,
    seqLen: T,
    mode: 'step',
    packed: true,
    separateUpdate: true,
    recompute,
    headChunkRows: rows,
    ...(lora ? { lora } : {}),
  });
  const prefix = path.join(tmpdir(), `lmsi-profile-${process.pid}`);
  const saveOptimized = stringArg('save-optimized', '');
  const session = await ort.InferenceSession.create(toBytes(graph), {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    enableCpuMemArena: false,
    enableMemPattern: false,
    intraOpNumThreads: 2,
    interOpNumThreads: 1,
    enableProfiling: profile,
    profileFilePrefix: prefix,
    // --save-optimized=FILE: the graph onnxruntime runs, after its fusions (for a liveness analysis).
    ...(saveOptimized ? { optimizedModelFilePath: saveOptimized } : {}),
  });
  const rng = new Rng(1);
  const feeds: Record<string, ort.Tensor> = {};
  const specs = [...(lora ? paramSpecs(config) : []), ...trainableSpecs(config, lora)];
  for (const s of specs) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = (rng.next() - 0.5) * 0.04;
    feeds[s.name] = new ort.Tensor('float32', data, s.shape);
  }
  const ids = BigInt64Array.from({ length: B * T }, () => BigInt(rng.int(0, config.vocabSize - 1)));
  const dims = [B, T];
  feeds[TRAIN_IO.inputIds] = new ort.Tensor('int64', ids, dims);
  feeds[TRAIN_IO.targets] = new ort.Tensor(
    'int64',
    ids.map((_, i) => ids[(i + 1) % ids.length]),
    dims,
  );
  feeds[TRAIN_IO.positionIds] = new ort.Tensor(
    'int64',
    BigInt64Array.from({ length: B * T }, (_, i) => BigInt(i % T)),
    dims,
  );
  feeds[TRAIN_IO.segmentIds] = new ort.Tensor(
    'int64',
    BigInt64Array.from({ length: B * T }, (_, i) => BigInt(1 + Math.floor(i / T))),
    dims,
  );
  feeds[TRAIN_IO.lossMask] = new ort.Tensor(
    'float32',
    Float32Array.from({ length: B * T }, (_, i) => (i % T > 64 ? 1 : 0)),
    dims,
  );
  const rss = () => `${(process.memoryUsage().rss / 1e9).toFixed(2)} GB`;
  console.log(`resident before the first run: ${rss()}`);
  const wall: number[] = [];
  for (let s = 0; s <= steps; s++) {
    const t0 = performance.now();
    await session.run(feeds);
    wall.push((performance.now() - t0) / 1000);
    console.log(`after run ${s + 1}: resident ${rss()}`);
  }
  if (!profile) {
    console.log(
      `wall per step ${wall.map((w) => w.toFixed(2)).join(' ')} s; load ${loadavg()[0].toFixed(2)}`,
    );
    return;
  }
  session.endProfiling();
  await session.release();
  // onnxruntime names the file <prefix>_<date>.json.
  const base = path.basename(prefix);
  const found = readdirSync(path.dirname(prefix)).find((f) => f.startsWith(base) && f.endsWith('.json'));
  if (!found) throw new Error(`no profile written under ${prefix}*`);
  const file = path.join(path.dirname(prefix), found);
  type Event = { cat: string; name: string; dur: number; args?: { op_name?: string } };
  const events = JSON.parse(readFileSync(file, 'utf8')) as Event[];
  if (flagArg('keep-profile')) console.log(`profile kept: ${file}`);
  else rmSync(file, { force: true });
  // Node events come as "<node>_kernel_time"; runs as "model_run". The first run is left out.
  const runs = events.filter((e) => e.name === 'model_run');
  const firstEnd = (runs[0] as Event & { ts: number }).ts + runs[0].dur;
  const byOp = new Map<string, number>();
  let total = 0;
  for (const e of events as (Event & { ts: number })[]) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || e.ts < firstEnd) continue;
    const op = e.args?.op_name ?? '?';
    byOp.set(op, (byOp.get(op) ?? 0) + e.dur);
    total += e.dur;
  }
  const perStep = (us: number) => Math.round(us / steps / 1e4) / 100;
  const table = [...byOp.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([op, us]) => ({ op, seconds: perStep(us), share: Math.round((1000 * us) / total) / 10 }));
  console.log(
    `${model} ${method}${recompute ? ' recompute' : ''} head rows ${rows || 'whole'}: wall per step ${wall.map((w) => w.toFixed(2)).join(' ')} s; kernel time ${perStep(total)} s/step; load ${loadavg()[0].toFixed(2)}`,
  );
  for (const r of table.slice(0, 20))
    console.log(
      `  ${r.op.padEnd(24)} ${r.seconds.toFixed(2).padStart(7)} s  ${r.share.toFixed(1).padStart(5)} %`,
    );
  const out = stringArg('out', '');
  if (out)
    writeFileSync(
      out,
      `${JSON.stringify({ model, method, recompute, headChunkRows: rows, wall, kernelSecondsPerStep: perStep(total), byOp: table, loadAverage: loadavg() }, null, 2)}\n`,
    );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

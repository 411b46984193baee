/**
 * npm run bench:sample-large-vocab — the sampler's one-step loop against several decode steps per
 * session.run (the draw inside the graph, logits never crossing into JS) on large-vocabulary models:
 *   - llama-32000: a random model of the Llama architecture with the 32 000-token Llama tokenizer
 *     (the ort-genai fixture's), dModel 256, 4 layers, 8 heads / 4 KV heads, dFF 688: most of its
 *     parameters are the (tied) embedding, and the LM head and the draw most of a step;
 *   - every Hugging Face folder given with --dir=PATH (repeatable), e.g. the random-weight SmolLM2-135M
 *     of bench/real-models/make-checkpoints.sh (tmp/real-models/smollm2-135m), sampled through the
 *     engine's graph built from its safetensors.
 * Workload: 4 word problems × n = 16 paths × ≤ 32 new tokens at T = 0.7, once without top-k, once
 * with top-k 40 and once with top-p 0.9 (`--top-ks=0,40`, `--top-ps=0.9`; an empty list, e.g.
 * `--top-ps=`, leaves those settings out; how the graph finds top-p's nucleus in stages, sorting the
 * vocabulary last: topPStages in engine/model/draw-in-graph.ts). Each
 * repetition times every steps-per-run setting back to back, so all see the same load on a shared
 * machine; the load average is recorded with each. Every setting must draw the same
 * tokens as the one-step loop (sha256 over every path's token ids, recorded): the reproducibility
 * contract of engine/generate/README.md. The peak RSS after each setting's first call shows what its
 * session adds (the decode-steps graph holds a second copy of the weights in onnxruntime).
 *   - ort-genai-fp16: the onnxruntime-genai export of a tiny random Llama (the 32 000-token fixture,
 *     fp16 caches and logits, contrib ops): a decoder lmsi did not build, whose several steps per run
 *     are its own graph in a Loop with the draw after its logits (engine/generate/decoder-loop.ts);
 *     so is any --dir folder that holds its own ONNX export (e.g. an Optimum-convention export of
 *     SmolLM2-135M made by tests/fixtures/hf-models/make_onnx_export.py).
 * `--models=llama-32000,ort-genai-fp16` picks the built-in ones (default both). With `--chain`, each
 * export's decoder is also timed per decode step four ways at a batch of `--chain-rows` rows (64):
 * the one-step loop (logits into JS, the host's draw), the decoder then a separate draw session fed
 * its logits (the chained alternative to the Loop), the Loop at 1 step per run, and at 8.
 * Writes bench/results/sample-large-vocab.json.
 *
 *   npm run bench:sample-large-vocab -- --dir=tmp/real-models/smollm2-135m --reps=2
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createBaseModel } from '../engine/checkpoint';
import * as ort from 'onnxruntime-node';
import { Rng } from '../base/rng';
import {
  type GenerationModel,
  chooseToken,
  emptyTimings,
  loadGenerationModel,
  generatePaths,
} from '../engine/generate';
import { decodeStepsSession, runDecodeSteps, stepsGraphOf } from '../engine/generate/decode-steps';
import { decodeStep } from '../engine/generate/decoder';
import { DECODE_STEPS_IO } from '../engine/model/decode-graph';
import { drawConstants, drawToken, NO_TRUNCATIONS } from '../engine/model/draw-in-graph';
import { onnx } from 'onnx-proto';
import { Graph, ops as o } from '../engine/onnx';
import { toModelProto } from '../engine/onnx/serialize';
import { parameterCount } from '../engine/model';
import { parseConfigJson } from '../engine/checkpoint/model-config';
import { allArgs, flagArg, listArg, numberArg, numberListArg, stringArg } from './args';
import { machine, median } from './machine';

const ROOT = path.resolve(__dirname, '..');
const LLAMA_TOKENIZER = path.join(
  ROOT,
  '..',
  'shared',
  'fixtures',
  'onnx',
  'ort-genai-tiny-random-LlamaForCausalLM-fp16',
);
const DIRS = allArgs('dir').map((d) => path.resolve(d));
const THREADS = numberArg('threads', os.cpus().length);
const REPS = numberArg('reps', 3);
const STEPS = numberListArg('steps', [1, 4, 8]);
const OUT = stringArg('out', path.join(__dirname, 'results', 'sample-large-vocab.json'));
const N = 16;
const NEW_TOKENS = 32;
const TEMPERATURE = 0.7;
const TOP_KS = numberListArg('top-ks', [0, 40]);
const TOP_PS = numberListArg('top-ps', [0.9]);
const MODELS = listArg('models', ['llama-32000', 'ort-genai-fp16']).filter(Boolean);
const CHAIN = flagArg('chain');
const CHAIN_ROWS = numberArg('chain-rows', 64);

const round = (x: number, digits = 0) => +x.toFixed(digits);
const load1 = () => round(os.loadavg()[0], 2);

const PROMPTS = [
  'Q: A shop has 48 boxes. It gets 17 more and sells 9. How many boxes are left now?\nA:',
  'Q: Tom reads 12 pages a day for 5 days, then 7 pages on the sixth day. How many pages in all?\nA:',
  'Q: A train leaves at 9:40 and the trip takes 2 hours 35 minutes. When does it arrive?\nA:',
  'Q: Ann buys 3 pens at $4 each and a book for $11. She pays with $30. What is her change?\nA:',
].map((text, i) => ({ id: `large-vocab-${i}`, text }));

interface Setting {
  stepsPerRun: number;
  tokens: number;
  seconds: number[];
  bestTokPerSec: number;
  medianTokPerSec: number;
  loadAverage1m: number[];
  /** The process's peak RSS after this setting's first call (its session built), GB. */
  peakRssGBAfterFirstCall: number;
  /** Of the last repetition: where the time went (engine/generate SampleTimings, ms). */
  lastTimings: Record<string, number | string | null>;
  tokenSha256: string;
  sameTokensAsOneStep: boolean;
  /** Which graph ran several steps per run (engine/generate SampleTimings.stepsGraph). */
  stepsGraph: string | null;
}

function llama32000(dir: string): string {
  const read = (f: string) =>
    JSON.parse(readFileSync(path.join(LLAMA_TOKENIZER, f), 'utf8')) as Record<string, unknown>;
  return createBaseModel({
    config: { vocabSize: 32000, dModel: 256, nLayers: 4, nHeads: 8, nKvHeads: 4, dFF: 688, maxSeqLen: 512 },
    tokenizerFiles: { tokenizerJson: read('tokenizer.json'), tokenizerConfig: read('tokenizer_config.json') },
    seed: 1,
    dir,
  });
}

async function benchModel(name: string, dir: string, graphCacheDir: string) {
  // The ort-genai fixture has no config.json (its genai_config.json says what the sampler needs).
  const configFile = path.join(dir, 'config.json');
  const config = existsSync(configFile)
    ? parseConfigJson(JSON.parse(readFileSync(configFile, 'utf8')), configFile)
    : null;
  const tLoad = performance.now();
  const model: GenerationModel = await loadGenerationModel(dir, { threads: THREADS, graphCacheDir });
  const loadSeconds = (performance.now() - tLoad) / 1000;
  const byTruncation: Record<string, Setting[]> = {};
  const cases = [
    ...TOP_KS.map((topK) => ({ key: `topK${topK}`, topK, topP: 1 })),
    ...TOP_PS.map((topP) => ({ key: `topP${topP}`, topK: 0, topP })),
  ];
  for (const { key, topK, topP } of cases) {
    const request = {
      prompts: PROMPTS,
      n: N,
      temperature: TEMPERATURE,
      topK,
      topP,
      maxNewTokens: NEW_TOKENS,
      seed: 'b',
    };
    const settings: Setting[] = [];
    const buildSeconds: Record<number, number> = {};
    for (const stepsPerRun of STEPS) {
      // The first call builds the session (the decode-steps graph from the weights) and warms it.
      const t = performance.now();
      const timings = emptyTimings();
      await generatePaths(model, { ...request, stepsPerRun, timings });
      if (timings.stepsPerRun !== stepsPerRun)
        throw new Error(`${name}: stepsPerRun ${stepsPerRun} fell back: ${timings.stepsFallbackReason}`);
      buildSeconds[stepsPerRun] = round((performance.now() - t) / 1000, 1);
      settings.push({
        peakRssGBAfterFirstCall: round(process.resourceUsage().maxRSS / 2 ** 20, 2),
        stepsPerRun,
        tokens: 0,
        seconds: [],
        bestTokPerSec: 0,
        medianTokPerSec: 0,
        loadAverage1m: [],
        lastTimings: {},
        tokenSha256: '',
        sameTokensAsOneStep: false,
        stepsGraph: timings.stepsGraph,
      });
    }
    for (let rep = 0; rep < REPS; rep++)
      for (const s of settings) {
        const timings = emptyTimings();
        s.loadAverage1m.push(load1());
        const t = performance.now();
        const out = await generatePaths(model, { ...request, stepsPerRun: s.stepsPerRun, timings });
        s.seconds.push(round((performance.now() - t) / 1000, 2));
        s.tokens = out.flat().reduce((a, c) => a + c.tokenIds.length, 0);
        s.tokenSha256 = createHash('sha256')
          .update(JSON.stringify(out.map((r) => r.map((c) => c.tokenIds))))
          .digest('hex');
        s.lastTimings = Object.fromEntries(
          Object.entries(timings).map(([k, v]) => [k, typeof v === 'number' ? round(v) : v]),
        );
        console.log(
          `${name} ${key} steps ${s.stepsPerRun} rep ${rep + 1}: ${s.tokens} tokens in ${s.seconds[rep]} s (load ${s.loadAverage1m[rep]})`,
        );
      }
    const one = settings.find((s) => s.stepsPerRun === 1);
    for (const s of settings) {
      s.bestTokPerSec = round(s.tokens / Math.min(...s.seconds));
      s.medianTokPerSec = round(s.tokens / median(s.seconds));
      s.sameTokensAsOneStep = one ? s.tokenSha256 === one.tokenSha256 : false;
    }
    byTruncation[key] = settings.map((s) => ({ ...s, firstCallSeconds: buildSeconds[s.stepsPerRun] }));
  }
  return {
    name,
    dir: path.relative(ROOT, dir) || dir,
    params: config ? parameterCount(config) : null,
    vocabSize: model.logitsSize,
    tokenizerVocabSize: model.tokenizer.vocabSize,
    cacheDType: model.signature.cacheDType,
    config: config && {
      dModel: config.dModel,
      nLayers: config.nLayers,
      nHeads: config.nHeads,
      nKvHeads: config.nKvHeads,
      dFF: config.dFF,
      tieEmbeddings: config.tieEmbeddings,
    },
    loadSeconds: round(loadSeconds, 1),
    byTruncation,
    ...(CHAIN && stepsGraphOf(model) === 'decoder-loop' ? { perStep: await chainVsLoop(model) } : {}),
  };
}

/**
 * Milliseconds per decode step of CHAIN_ROWS rows (T = 0.7, no top-k, after a prompt of 24 tokens),
 * the best of 5 runs of 8 steps each way (README.md, "decoders lmsi did not build").
 */
async function chainVsLoop(model: GenerationModel) {
  const sig = model.signature;
  const rows = CHAIN_ROWS;
  const promptLength = 24;
  const vocab = model.logitsSize;
  const ids = Array.from({ length: rows * promptLength }, (_, i) => 100 + ((i * 7919) % 1000));
  const int64 = (v: number[], dims: number[]) => new ort.Tensor('int64', BigInt64Array.from(v, BigInt), dims);
  const prefill: Record<string, ort.Tensor> = {
    input_ids: int64(ids, [rows, promptLength]),
    attention_mask: int64(new Array<number>(rows * promptLength).fill(1), [rows, promptLength]),
  };
  if (sig.hasPositionIds)
    prefill.position_ids = int64(
      ids.map((_, i) => i % promptLength),
      [rows, promptLength],
    );
  const empty = sig.cacheDType === 'float16' ? new Uint16Array(0) : new Float32Array(0);
  sig.pastNames.forEach(
    (n) => (prefill[n] = new ort.Tensor(sig.cacheDType, empty, [rows, sig.kvHeads, 0, sig.headDim])),
  );
  const start = await model.session.run(prefill);
  const past0 = sig.presentNames.map((n) => start[n]);
  const rng = new Rng(7);
  const STEPS = 8;

  // The chained draw: its own session, fed the decoder's logits as they come out ([rows, 1, V]; a
  // float16 model's are cast in the graph, which the builder cannot declare, so the input is patched).
  const g = new Graph('draw');
  const logitsIn = g.input('logits32', 'float32', ['batch', 1, vocab]);
  const u = g.input('u', 'float64', ['batch', 1]);
  const invT = g.input(DECODE_STEPS_IO.inverseTemperature, 'float64', []);
  const tokV = Math.min(vocab, model.tokenizer.vocabSize);
  const d = drawToken(drawConstants(g, vocab, tokV), o.reshape(logitsIn, [0, vocab]), u, invT, {
    topK: null,
    topP: null,
    logMinP: null,
  });
  g.output(d.token, 'token');
  g.output(d.chosenLogit, 'chosen');
  g.output(d.maxLogit, 'max');
  g.output(d.total, 'total');
  const { proto } = toModelProto(g);
  const fp16 = sig.logitsDType === 'float16';
  const graph = proto.graph as onnx.GraphProto;
  graph.input[0] = onnx.ValueInfoProto.create({
    name: 'logits',
    type: {
      tensorType: { elemType: fp16 ? onnx.TensorProto.DataType.FLOAT16 : onnx.TensorProto.DataType.FLOAT },
    },
  });
  const to = { name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: onnx.TensorProto.DataType.FLOAT };
  graph.node.unshift(
    onnx.NodeProto.create(
      fp16
        ? { opType: 'Cast', input: ['logits'], output: ['logits32'], attribute: [to] }
        : { opType: 'Identity', input: ['logits'], output: ['logits32'] },
    ),
  );
  const drawSession = await ort.InferenceSession.create(onnx.ModelProto.encode(proto).finish(), {
    executionProviders: ['cpu'],
    intraOpNumThreads: THREADS,
    interOpNumThreads: 1,
  });
  const loop = await decodeStepsSession(model, STEPS, NO_TRUNCATIONS);
  const host = new Float32Array(vocab);
  const inv = new ort.Tensor('float64', Float64Array.of(1 / TEMPERATURE), []);

  const oneStep = async (chained: boolean) => {
    let past = past0;
    let tokens = new Array<number>(rows).fill(5);
    for (let j = 0; j < STEPS; j++) {
      const width = promptLength + j;
      const run = await decodeStep(model, past, width, tokens, new Array<number>(rows).fill(width));
      past = run.present;
      const us = Float64Array.from({ length: rows }, () => rng.next());
      if (chained) {
        const out = await drawSession.run({
          logits: run.logits.tensor,
          u: new ort.Tensor('float64', us, [rows, 1]),
          [invT.name]: inv,
        });
        tokens = Array.from(out.token.data as Float32Array);
      } else
        tokens = tokens.map((_, r) => {
          run.logits.read(r, host);
          for (let i = 0; i < vocab; i++) host[i] *= 1 / TEMPERATURE;
          return chooseToken(host, us[r]).tokenId;
        });
    }
  };
  const inLoop = async (k: number) => {
    let past = past0;
    for (let j = 0; j < STEPS; j += k) {
      const width = promptLength + j;
      const us = Float64Array.from({ length: rows * k }, () => rng.next());
      const run = await runDecodeSteps(model, loop, k, {
        past,
        width,
        tokens: new Array<number>(rows).fill(5),
        lengths: new Array<number>(rows).fill(width),
        positions: new Array<number>(rows).fill(width),
        uniforms: us,
        temperature: TEMPERATURE,
        topK: 0,
        topP: 1,
        minP: 0,
      });
      past = run.present;
    }
  };
  const ways: [string, () => Promise<void>][] = [
    ['oneStepHostDraw', () => oneStep(false)],
    ['oneStepChainedDrawSession', () => oneStep(true)],
    ['loop1StepPerRun', () => inLoop(1)],
    [`loop${STEPS}StepsPerRun`, () => inLoop(STEPS)],
  ];
  const best: Record<string, number[]> = Object.fromEntries(ways.map(([w]) => [w, []]));
  for (let rep = 0; rep < 6; rep++)
    for (const [way, fn] of ways) {
      const t = performance.now();
      await fn();
      if (rep > 0) best[way].push((performance.now() - t) / STEPS); // rep 0 warms up
    }
  await drawSession.release();
  const msPerStep = Object.fromEntries(Object.entries(best).map(([w, xs]) => [w, round(Math.min(...xs), 2)]));
  console.log(`${model.dir}: ms per decode step of ${rows} rows`, msPerStep);
  return { rows, promptLength, temperature: TEMPERATURE, loadAverage1m: load1(), msPerStep };
}

async function main(): Promise<void> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'lmsi-bench-large-vocab-'));
  try {
    const before = machine();
    const models = [];
    if (MODELS.includes('llama-32000'))
      models.push(
        await benchModel('llama-32000', llama32000(path.join(tmp, 'llama-32000')), path.join(tmp, 'graphs')),
      );
    if (MODELS.includes('ort-genai-fp16'))
      models.push(await benchModel('ort-genai-fp16', LLAMA_TOKENIZER, path.join(tmp, 'graphs')));
    for (const dir of DIRS) {
      if (!existsSync(dir)) throw new Error(`--dir ${dir} does not exist`);
      models.push(await benchModel(path.basename(dir), dir, path.join(tmp, 'graphs')));
    }
    const result = {
      date: new Date().toISOString(),
      machine: { ...before, loadAverageAtEnd: machine().loadAverage },
      workload: {
        prompts: PROMPTS.length,
        n: N,
        maxNewTokens: NEW_TOKENS,
        temperature: TEMPERATURE,
        topKs: TOP_KS,
        topPs: TOP_PS,
        threads: THREADS,
        reps: REPS,
        note: 'each repetition runs every steps-per-run setting back to back; tok/s = the real tokens (eos and the length end a path) / wall seconds of a generatePaths call, prefill included',
      },
      models: models.map((m) => ({
        ...m,
        speedup: Object.fromEntries(
          Object.entries(m.byTruncation).map(([k, settings]) => {
            const one = settings.find((s) => s.stepsPerRun === 1);
            return [
              k,
              Object.fromEntries(
                settings
                  .filter((s) => s.stepsPerRun !== 1 && one)
                  .map((s) => [
                    `steps${s.stepsPerRun}`,
                    {
                      best: round(s.bestTokPerSec / one!.bestTokPerSec, 2),
                      median: round(s.medianTokPerSec / one!.medianTokPerSec, 2),
                    },
                  ]),
              ),
            ];
          }),
        ),
      })),
    };
    console.table(
      result.models.flatMap((m) =>
        Object.entries(m.byTruncation).flatMap(([k, settings]) =>
          settings.map((s) => ({
            model: m.name,
            truncation: k,
            steps: s.stepsPerRun,
            'tok/s best': s.bestTokPerSec,
            'tok/s median': s.medianTokPerSec,
            'same tokens': s.sameTokensAsOneStep,
            graph: s.stepsGraph ?? '-',
            load: s.loadAverage1m.join(' '),
          })),
        ),
      ),
    );
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

/** @jest-environment ./tests/engine/ort-environment.ts */
jest.mock('onnxruntime-node', () => (globalThis as Record<string, unknown>).__onnxruntimeNode);
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import * as path from 'node:path';
import { onnx } from 'onnx-proto';
import {
  type Completion,
  type GenerationModel,
  decodeStepsUnavailable,
  emptyTimings,
  generatePaths,
  loadGenerationModel,
  releaseDecodeStepsSessions,
} from '../../../engine/generate';
import { stepsGraphOf } from '../../../engine/generate/decode-steps';
import { decoderLoopBytes, decoderWeightBytes } from '../../../engine/generate/decoder-loop';
import type { GeneratePathsRequest } from '../../../engine/generate/generate-paths';
import { parseSampleOptions } from '../../../engine/generate/options';
import { DECODE_STEPS_IO } from '../../../engine/model/decode-graph';
import { hfModelDir } from '../hf/fixtures';
import { LLAMA_FP16 } from './fixture';

// The fast sampler on decoders the engine did not build: the export's own graph in a Loop with the
// in-graph draw after its logits (engine/generate/decoder-loop.ts). Every step runs the export's
// graph on the same past as the one-step loop, so the logits are the same; the draw keeps the
// contract of README.md (same tokens except where a uniform lies within float64 rounding of a CDF
// boundary, which random uniforms do not; log-probabilities to 1e-12 per token).
const PROMPTS = ['Q: 3 + 4 = ?\nA:', { id: 'q-2', text: 'Tom has 12 pens and gives away 5.' }, 'Hello'];

async function sample(model: GenerationModel, request: GeneratePathsRequest, steps: number) {
  const timings = emptyTimings();
  const out = await generatePaths(model, { ...request, stepsPerRun: steps, timings });
  return { out: out.flat(), timings };
}

/** The Loop's samples at each k against the one-step loop's; returns the one-step loop's. */
async function expectSameAsOneStep(
  model: GenerationModel,
  request: GeneratePathsRequest,
  stepsList: number[],
): Promise<Completion[]> {
  const one = await sample(model, request, 1);
  expect(one.timings.stepsGraph).toBeNull();
  for (const steps of stepsList) {
    const many = await sample(model, request, steps);
    // The fast path was taken: the decoder's Loop, k steps per session.run.
    expect(many.timings.stepsFallbackReason).toBeNull();
    expect(many.timings.stepsGraph).toBe('decoder-loop');
    expect(many.timings.stepsPerRun).toBe(steps);
    expect(many.timings.decodeRuns).toBeLessThan(one.timings.decodeRuns);
    expect(many.out.map((c) => c.tokenIds)).toEqual(one.out.map((c) => c.tokenIds));
    many.out.forEach((c, i) => {
      expect(c.text).toBe(one.out[i].text);
      expect(c.finishReason).toBe(one.out[i].finishReason);
      // At most ~1e-12 per token (onnxruntime's Exp against Math.exp), over ≤ 24 tokens.
      expect(Math.abs(c.sumLogprob - one.out[i].sumLogprob)).toBeLessThan(
        1e-9 * Math.abs(one.out[i].sumLogprob) + 1e-9,
      );
    });
  }
  return one.out;
}

describe.each([
  ['the onnxruntime-genai fp16 export (32 000-token vocabulary, contrib ops, external data)', LLAMA_FP16],
  [
    'an fp32 torch.onnx export (opset 14, a Hugging Face folder without safetensors)',
    hfModelDir('llama-onnx-export'),
  ],
])('%s', (_, dir) => {
  let model: GenerationModel;
  beforeAll(async () => {
    model = await loadGenerationModel(dir, { threads: 2 });
    expect(stepsGraphOf(model)).toBe('decoder-loop');
  });

  it('greedy: the same tokens at 3 and 8 steps per run as one step at a time', async () => {
    await expectSameAsOneStep(
      model,
      { prompts: PROMPTS, n: 2, temperature: 0, maxNewTokens: 20, seed: 0 },
      [3, 8],
    );
  });

  it('temperature and top-k, rows stopping inside runs: the same samples', async () => {
    // A stop string most tokens contain, so rows stop at many different steps of a run.
    const request = {
      prompts: PROMPTS,
      n: 6,
      temperature: 0.8,
      topK: 40,
      maxNewTokens: 24,
      stop: ['e'],
      seed: 's',
    };
    const one = await expectSameAsOneStep(model, request, [4, 8]);
    expect(one.some((c) => c.finishReason === 'stop')).toBe(true);
    expect(new Set(one.map((c) => c.tokenIds.length)).size).toBeGreaterThan(3);
  });

  it('temperature over the whole vocabulary (no top-k): the same samples', async () => {
    await expectSameAsOneStep(
      model,
      { prompts: PROMPTS, n: 4, temperature: 1, maxNewTokens: 16, seed: 'full' },
      [8],
    );
  });

  it('the same samples whatever the batch and however the prompts are split over calls', async () => {
    const request = {
      prompts: PROMPTS,
      n: 4,
      temperature: 0.7,
      topK: 20,
      maxNewTokens: 12,
      seed: 'b',
      stepsPerRun: 4,
    };
    const whole = (await generatePaths(model, request)).flat();
    const oneRow = (await generatePaths(model, { ...request, maxBatchRows: 1 })).flat();
    const split = [
      ...(await generatePaths(model, { ...request, prompts: PROMPTS.slice(0, 1) })),
      ...(await generatePaths(model, { ...request, prompts: PROMPTS.slice(1) })),
    ].flat();
    expect(oneRow).toEqual(whole);
    expect(split).toEqual(whole);
  });

  it("top-p and min-p (in the draw after the Loop's logits): the same samples", async () => {
    await expectSameAsOneStep(
      model,
      { prompts: PROMPTS, n: 4, temperature: 0.9, topP: 0.9, minP: 0.02, maxNewTokens: 12, seed: 'nucleus' },
      [8],
    );
  });

  it('repetition penalty has no in-graph twin: the one-step loop samples, and says why', async () => {
    const { timings } = await sample(
      model,
      {
        prompts: PROMPTS.slice(0, 1),
        n: 2,
        temperature: 0.7,
        repetitionPenalty: 1.2,
        maxNewTokens: 4,
        seed: 1,
      },
      8,
    );
    expect(timings.stepsPerRun).toBe(1);
    expect(timings.stepsGraph).toBeNull();
    expect(timings.stepsFallbackReason).toMatch(/repetition penalty runs on the host only/);
  });
});

/**
 * The fp32 export as Optimum's merged decoders are laid out: a use_cache_branch input and an If node
 * whose branches each hold the whole decoder, reading the inputs and weights from the main graph.
 */
function mergedDecoder(source: string, dir: string): void {
  cpSync(source, dir, { recursive: true });
  const file = path.join(dir, 'onnx', 'model.onnx');
  const m = onnx.ModelProto.decode(readFileSync(file));
  const g = m.graph as onnx.GraphProto;
  const nodes = g.node as onnx.NodeProto[];
  const valueInfos = g.output as onnx.ValueInfoProto[];
  const branch = (prefix: string): onnx.IGraphProto => {
    const own = new Set(nodes.flatMap((n) => n.output));
    const name = (v: string) => (own.has(v) ? `${prefix}/${v}` : v);
    return {
      name: prefix,
      node: nodes.map((n) => ({
        ...onnx.NodeProto.toObject(n),
        name: `${prefix}/${n.name}`,
        input: n.input.map(name),
        output: n.output.map(name),
      })),
      output: valueInfos.map((o) => ({ ...onnx.ValueInfoProto.toObject(o), name: name(o.name) })),
    };
  };
  const graph = onnx.GraphProto.create({
    name: 'merged',
    input: [
      ...g.input,
      {
        name: 'use_cache_branch',
        type: { tensorType: { elemType: onnx.TensorProto.DataType.BOOL, shape: { dim: [{ dimValue: 1 }] } } },
      },
    ],
    output: g.output,
    initializer: g.initializer,
    node: [
      {
        opType: 'If',
        name: 'optimum::if',
        input: ['use_cache_branch'],
        output: valueInfos.map((o) => o.name),
        attribute: [
          { name: 'then_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: branch('with_past') },
          { name: 'else_branch', type: onnx.AttributeProto.AttributeType.GRAPH, g: branch('no_past') },
        ],
      },
    ],
  });
  writeFileSync(file, onnx.ModelProto.encode({ ...m, graph }).finish());
}

describe('an Optimum-style merged decoder (use_cache_branch and an If node)', () => {
  it('runs in the Loop with use_cache_branch set: the same samples as the one-step loop', async () => {
    const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'lmsi-merged-')), 'merged');
    try {
      mergedDecoder(hfModelDir('llama-onnx-export'), dir);
      const model = await loadGenerationModel(dir, { threads: 2 });
      expect(model.signature.hasUseCacheBranch).toBe(true);
      await expectSameAsOneStep(
        model,
        { prompts: PROMPTS, n: 2, temperature: 0, maxNewTokens: 12, seed: 0 },
        [4],
      );
      await expectSameAsOneStep(
        model,
        { prompts: PROMPTS, n: 4, temperature: 0.9, topK: 30, maxNewTokens: 16, stop: [' '], seed: 'merged' },
        [8],
      );
    } finally {
      rmSync(path.dirname(dir), { recursive: true, force: true });
    }
  });
});

describe('the context limit (the fp32 export: max_position_embeddings 128)', () => {
  it('rows stop at the last position, and the Loop decodes past it harmlessly: the same samples', async () => {
    const model = await loadGenerationModel(hfModelDir('llama-onnx-export'), { threads: 2 });
    expect(model.maxPositions).toBe(128);
    let text = 'Q:';
    while (model.tokenizer.encode(text, { bos: true }).length < 121) text += ' 7 +';
    const promptTokens = model.tokenizer.encode(text, { bos: true }).length;
    // 8 steps per run from 121-odd positions: each row's last run reaches past position 127, where
    // the rows have stopped (length) and their tokens are discarded.
    const request = { prompts: [text], n: 3, temperature: 0.9, maxNewTokens: 32, seed: 'end' };
    const one = await expectSameAsOneStep(model, request, [8]);
    for (const c of one) {
      expect(c.finishReason).toBe('length');
      expect(promptTokens + c.tokenIds.length).toBe(128);
    }
  });
});

describe('the Loop around an export', () => {
  it("keeps the decoder's graph whole, its weights where they were, and its interface the engine's k-step graph's", async () => {
    const model = await loadGenerationModel(LLAMA_FP16, { threads: 2 });
    const decoder = onnx.ModelProto.decode(readFileSync(model.modelFile));
    const loop = onnx.ModelProto.decode(decoderLoopBytes(model, { topK: true, topP: true, minP: true }));
    const outer = loop.graph as onnx.GraphProto;
    expect(outer.node.map((n) => n.opType)).toContain('Loop');
    const loopNode = outer.node.find((n) => n.opType === 'Loop');
    const body = loopNode?.attribute?.find((a) => a.name === 'body')?.g as onnx.GraphProto;
    // Every node of the decoder, and every weight as an external reference into its data file.
    const ops = (g: onnx.IGraphProto) => (g.node ?? []).map((n) => `${n.domain ?? ''}:${n.opType}`);
    for (const op of new Set(ops(decoder.graph!))) expect(ops(body)).toContain(op);
    const external = (g: onnx.IGraphProto) =>
      (g.initializer ?? [])
        .filter((t) => t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL)
        .map((t) => t.name);
    expect(external(body).sort()).toEqual(external(decoder.graph!).sort());
    expect(external(decoder.graph!).length).toBeGreaterThan(0);
    expect(outer.input.map((i) => i.name)).toEqual([
      'input_ids',
      'attention_mask',
      'position_ids',
      ...model.signature.pastNames,
      DECODE_STEPS_IO.uniforms,
      DECODE_STEPS_IO.inverseTemperature,
      DECODE_STEPS_IO.topK,
      DECODE_STEPS_IO.topP,
      DECODE_STEPS_IO.logMinP,
    ]);
    expect(outer.output.map((o) => o.name)).toEqual([
      DECODE_STEPS_IO.tokens,
      DECODE_STEPS_IO.chosenLogits,
      DECODE_STEPS_IO.maxLogits,
      DECODE_STEPS_IO.totals,
      ...model.signature.presentNames,
    ]);
    // Opset 14: the draw's ReduceMax / ReduceMin carry their axes as an attribute.
    for (const n of body.node.filter((x) => x.opType === 'ReduceMax' || x.opType === 'ReduceMin')) {
      expect(n.input).toHaveLength(1);
      expect((n.attribute ?? []).map((a) => a.name)).toContain('axes');
    }
  });

  it('asks for memory for the second copy of the weights, and for re-encoding inline ones', async () => {
    // The fp32 export keeps its weights inline: building its Loop holds them twice more for a moment.
    await releaseDecodeStepsSessions();
    const model = await loadGenerationModel(hfModelDir('llama-onnx-export'), { threads: 2 });
    const options = parseSampleOptions({ prompts: ['Hi'], n: 1, temperature: 0.7, maxNewTokens: 4, seed: 1 });
    const { weights, inline } = decoderWeightBytes(model.modelFile);
    expect(inline).toBe(weights);
    expect(weights).toBeGreaterThan(100_000);
    try {
      jest.spyOn(os, 'freemem').mockReturnValue(3 * weights);
      expect(decodeStepsUnavailable(model, options)).toMatch(
        /2x that wanted plus 0\.0 GiB to re-encode the export's inline weights/,
      );
      jest.spyOn(os, 'freemem').mockReturnValue(4 * weights + 1);
      expect(decodeStepsUnavailable(model, options)).toBeNull();
    } finally {
      jest.restoreAllMocks();
    }
  });

  it('is refused, with the reason, for a decoder that takes an input the sampler does not feed', async () => {
    const options = parseSampleOptions({ prompts: ['Hi'], n: 1, temperature: 0.7, maxNewTokens: 4, seed: 1 });
    const source = hfModelDir('llama-onnx-export');
    expect(decodeStepsUnavailable(await loadGenerationModel(source, { threads: 2 }), options)).toBeNull();
    // The same export declaring one more input (BERT-style token_type_ids).
    const dir = mkdtempSync(path.join(os.tmpdir(), 'lmsi-decoder-loop-'));
    try {
      cpSync(source, dir, { recursive: true });
      const file = path.join(dir, 'onnx', 'model.onnx');
      const m = onnx.ModelProto.decode(readFileSync(file));
      (m.graph as onnx.GraphProto).input.push(
        onnx.ValueInfoProto.create({
          name: 'token_type_ids',
          type: {
            tensorType: {
              elemType: onnx.TensorProto.DataType.INT64,
              shape: { dim: [{ dimParam: 'b' }, { dimParam: 's' }] },
            },
          },
        }),
      );
      writeFileSync(file, onnx.ModelProto.encode(m).finish());
      const model = await loadGenerationModel(dir, { threads: 2 });
      expect(decodeStepsUnavailable(model, options)).toMatch(
        /takes an input the sampler does not feed: token_type_ids/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

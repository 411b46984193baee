import * as ort from 'onnxruntime-node';
import type { OptimizerState } from '../checkpoint/checkpoint';
import type { LlamaConfig } from '../model/config';
import type { LoraConfig } from '../model/lora';
import { type ParamSpec, type Params, paramSpecs } from '../model/params';
import {
  type AdamWConfig,
  TRAIN_IO,
  type TrainingGraphMode,
  buildTrainingGraph,
  trainableSpecs,
} from '../model/training-graph';
import { toBytes } from '../onnx/serialize';
import type { MicroBatch } from './batches';

export interface RunnerOptions {
  config: LlamaConfig;
  batchSize: number;
  seqLen: number;
  adamw: AdamWConfig;
  /** Steps take several micro-batches (two sessions: accumulate, apply) instead of one. */
  accumulation: boolean;
  /** Also build the forward-only session for held-out loss. */
  evaluation: boolean;
  /** Intra-op threads; default onnxruntime's (every core). */
  threads?: number;
  /** Train LoRA adapters on the frozen base (`frozen` given to create); else every parameter. */
  lora?: LoraConfig;
  /** Base of the per-step LoRA dropout seeds (with lora.dropout > 0). */
  dropoutSeed?: number;
}

type Tensors = Map<string, ort.Tensor>;

const wrap = (specs: readonly ParamSpec[], p: Params): Tensors =>
  new Map(specs.map((s) => [s.name, new ort.Tensor('float32', p.get(s.name)!, s.shape)]));
const unwrap = (t: Tensors): Params => new Map([...t].map(([k, v]) => [k, v.data as Float32Array]));
const scalar = (v: number) => new ort.Tensor('float32', Float32Array.of(v), []);

/**
 * The training graph's sessions, built once per run, and the weights and AdamW moments, which stay
 * onnxruntime tensors between steps: each step's outputs are the next step's inputs, no copy in JS.
 */
export class TrainingRunner {
  private constructor(
    private readonly opts: RunnerOptions,
    private readonly sessions: Partial<Record<TrainingGraphMode, ort.InferenceSession>>,
    private params: Tensors,
    private expAvg: Tensors,
    private expAvgSq: Tensors,
    /** LoRA's base weights: fed to every run, never updated. */
    private readonly frozen: Tensors,
  ) {}

  private get specs(): ParamSpec[] {
    return trainableSpecs(this.opts.config, this.opts.lora);
  }

  /**
   * `params` and `optimizer` are the trained parameters' (the adapters' with LoRA); `frozen` the
   * base weights LoRA adapts.
   */
  static async create(
    opts: RunnerOptions,
    params: Params,
    optimizer: OptimizerState,
    frozen?: Params,
  ): Promise<TrainingRunner> {
    if (!opts.lora !== !frozen)
      throw new Error('TrainingRunner: LoRA needs the frozen base weights, and only LoRA');
    const modes: TrainingGraphMode[] = opts.accumulation ? ['accumulate', 'apply'] : ['step'];
    if (opts.evaluation) modes.push('loss');
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      ...(opts.threads === undefined ? {} : { intraOpNumThreads: opts.threads, interOpNumThreads: 1 }),
    };
    const sessions: Partial<Record<TrainingGraphMode, ort.InferenceSession>> = {};
    for (const mode of modes) {
      const graph = buildTrainingGraph(opts.config, {
        batchSize: opts.batchSize,
        seqLen: opts.seqLen,
        adamw: opts.adamw,
        mode,
        packed: true,
        ...(opts.lora ? { lora: opts.lora } : {}),
      });
      sessions[mode] = await ort.InferenceSession.create(toBytes(graph), sessionOptions);
    }
    const specs = trainableSpecs(opts.config, opts.lora);
    return new TrainingRunner(
      opts,
      sessions,
      wrap(specs, params),
      wrap(specs, optimizer.expAvg),
      wrap(specs, optimizer.expAvgSq),
      frozen ? wrap(paramSpecs(opts.config), frozen) : new Map(),
    );
  }

  private data(mb: MicroBatch): Record<string, ort.Tensor> {
    const dims = [this.opts.batchSize, this.opts.seqLen];
    return {
      [TRAIN_IO.inputIds]: new ort.Tensor('int64', mb.inputIds, dims),
      [TRAIN_IO.targets]: new ort.Tensor('int64', mb.targets, dims),
      [TRAIN_IO.lossMask]: new ort.Tensor('float32', mb.lossMask, dims),
      [TRAIN_IO.positionIds]: new ort.Tensor('int64', mb.positionIds, dims),
      [TRAIN_IO.segmentIds]: new ort.Tensor('int64', mb.segmentIds, dims),
    };
  }

  private zeros: Record<string, ort.Tensor> | null = null;

  /** The first micro-batch's grad_acc inputs (onnxruntime never writes to inputs, so they stay 0). */
  private zeroGradients(): Record<string, ort.Tensor> {
    this.zeros ??= Object.fromEntries(
      this.specs.map((s) => [
        TRAIN_IO.gradAcc(s.name),
        new ort.Tensor('float32', new Float32Array(s.shape.reduce((a, b) => a * b, 1)), s.shape),
      ]),
    );
    return this.zeros;
  }

  private weights(): Record<string, ort.Tensor> {
    return { ...Object.fromEntries(this.frozen), ...Object.fromEntries(this.params) };
  }

  /** LoRA dropout's seed for micro-batch i of a step, when the graphs take one. */
  private dropout(step: number, i: number): Record<string, ort.Tensor> {
    if (!this.opts.lora || this.opts.lora.dropout === 0) return {};
    const seed = ((this.opts.dropoutSeed ?? 0) + step * 7919 + i * 104729) % 2147483647;
    return { [TRAIN_IO.loraDropoutSeed]: new ort.Tensor('int64', BigInt64Array.of(BigInt(seed)), []) };
  }

  /**
   * One optimiser step over 1..gradientAccumulation micro-batches. Each micro-batch's gradient is
   * weighted by its share of the step's completion tokens, so the step equals one step on all the
   * rows at once (the loss is the mean over every completion token of the step).
   */
  async step(
    micro: readonly MicroBatch[],
    lr: number,
    step: number,
  ): Promise<{ loss: number; gradNorm: number }> {
    const specs = this.specs;
    const update: Record<string, ort.Tensor> = { [TRAIN_IO.lr]: scalar(lr), [TRAIN_IO.step]: scalar(step) };
    for (const s of specs) {
      update[TRAIN_IO.expAvg(s.name)] = this.expAvg.get(s.name)!;
      update[TRAIN_IO.expAvgSq(s.name)] = this.expAvgSq.get(s.name)!;
    }
    let out: ort.InferenceSession.OnnxValueMapType;
    let loss = 0;
    if (!this.opts.accumulation) {
      out = await this.sessions.step!.run({
        ...this.data(micro[0]),
        ...this.weights(),
        ...this.dropout(step, 0),
        ...update,
      });
      loss = Number(out[TRAIN_IO.loss].data[0]);
    } else {
      const total = micro.reduce((a, mb) => a + mb.lossTokens, 0);
      const share = (mb: MicroBatch) => (total === 0 ? 0 : mb.lossTokens / total);
      const acc = { ...this.zeroGradients() };
      for (const [i, mb] of micro.slice(0, -1).entries()) {
        const r = await this.sessions.accumulate!.run({
          ...this.data(mb),
          ...this.weights(),
          ...this.dropout(step, i),
          ...acc,
          [TRAIN_IO.gradScale]: scalar(share(mb)),
        });
        loss += share(mb) * Number(r[TRAIN_IO.loss].data[0]);
        for (const s of specs) acc[TRAIN_IO.gradAcc(s.name)] = r[TRAIN_IO.updated(TRAIN_IO.gradAcc(s.name))];
      }
      const last = micro[micro.length - 1];
      out = await this.sessions.apply!.run({
        ...this.data(last),
        ...this.weights(),
        ...this.dropout(step, micro.length - 1),
        ...update,
        ...acc,
        [TRAIN_IO.gradScale]: scalar(share(last)),
      });
      loss += share(last) * Number(out[TRAIN_IO.loss].data[0]);
    }
    const gradNorm = Number(out[TRAIN_IO.gradNorm].data[0]);
    // A non-finite step is not kept: the caller stops and the last checkpoint stays the last good state.
    if (Number.isFinite(loss) && Number.isFinite(gradNorm))
      for (const s of specs) {
        this.params.set(s.name, out[TRAIN_IO.updated(s.name)]);
        this.expAvg.set(s.name, out[TRAIN_IO.updated(TRAIN_IO.expAvg(s.name))]);
        this.expAvgSq.set(s.name, out[TRAIN_IO.updated(TRAIN_IO.expAvgSq(s.name))]);
      }
    return { loss, gradNorm };
  }

  /** Mean loss over every completion token of the batches. */
  async evalLoss(batches: readonly MicroBatch[]): Promise<number> {
    let sum = 0;
    let tokens = 0;
    for (const mb of batches) {
      if (mb.lossTokens === 0) continue;
      const r = await this.sessions.loss!.run({ ...this.data(mb), ...this.weights() });
      sum += Number(r[TRAIN_IO.loss].data[0]) * mb.lossTokens;
      tokens += mb.lossTokens;
    }
    return tokens === 0 ? NaN : sum / tokens;
  }

  /** The current weights and moments as Float32Arrays (views of the tensors, no copy). */
  snapshot(): { params: Params; optimizer: OptimizerState } {
    return {
      params: unwrap(this.params),
      optimizer: { expAvg: unwrap(this.expAvg), expAvgSq: unwrap(this.expAvgSq) },
    };
  }

  async release(): Promise<void> {
    for (const s of Object.values(this.sessions)) await s.release();
  }
}

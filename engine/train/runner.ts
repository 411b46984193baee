import * as ort from 'onnxruntime-node';
import type { OptimizerState } from '../checkpoint/checkpoint';
import type { ExecutionProvider } from '../generate/provider';
import type { LlamaConfig } from '../model/config';
import type { LoraConfig } from '../model/lora';
import { type ParamSpec, type Params, paramSpecs } from '../model/params';
import { GrpoConfig } from '../model/policy-loss';
import {
  ADAMW_IO,
  type AdamWConfig,
  TRAIN_IO,
  type TrainingGraphMode,
  type TrainingLoss,
  buildAdamWGraph,
  buildTrainingGraph,
  trainableSpecs,
} from '../model/training-graph';
import { serializeForSession, toBytes } from '../onnx/serialize';
import type { MicroBatch } from './batches';
import { collectGarbage } from './gc';

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
  /** Recompute each layer's activations in the backward pass (less memory, one more forward pass). */
  recompute?: boolean;
  /**
   * Where the graphs run (default cpu). fineTune checks that the provider can load before it gets
   * here. On cuda every run copies its inputs to the device and its outputs back: onnxruntime-node
   * has no device-resident tensors for CUDA (its Tensor locations other than cpu are onnxruntime-web's),
   * so weights, moments and gradients live in host memory between runs (docs/design.md).
   */
  provider?: ExecutionProvider;
  /**
   * LoRA's frozen base inside the session that runs every micro-batch (its initializers) rather
   * than fed to every run. Off the CPU the base then crosses to the device once, when the session is
   * made, instead of on every run, and the device holds one copy of it: with accumulation that
   * session (`apply`) also runs the micro-batches `accumulate` would, and the evaluation and
   * log-probability sessions, run far less often (the latter also fed other models, a KL
   * reference), are still fed it. On the CPU feeding is zero-copy, and as initializers onnxruntime
   * keeps its own (prepacked) copy without a faster step (docs/training-memory.md). Default: on for
   * every provider but cpu.
   */
  frozenResident?: boolean;
  /** The training loss (default sft); grpo feeds each micro-batch's advantages and old log-probs. */
  loss?: TrainingLoss;
  /** Loss grpo's settings (ε, β, temperature). */
  grpo?: GrpoConfig;
  /** Also build the forward-only session that scores tokens (tokenLogProbs). */
  logProbs?: boolean;
}

type Tensors = Map<string, ort.Tensor>;

const wrap = (specs: readonly ParamSpec[], p: Params): Tensors =>
  new Map(specs.map((s) => [s.name, new ort.Tensor('float32', p.get(s.name)!, s.shape)]));
const unwrap = (t: Tensors): Params => new Map([...t].map(([k, v]) => [k, v.data as Float32Array]));
const scalar = (v: number) => new ort.Tensor('float32', Float32Array.of(v), []);
const flat = (a: Float32Array, from: number, to: number) =>
  new ort.Tensor('float32', a.subarray(from, to), [to - from]);

/**
 * Elements per run of the AdamW graph. onnxruntime-node returns a copy of every output, even one it
 * wrote into a buffer given for it: updating a parameter in pieces keeps each run's copies small,
 * and a piece's temporaries stay in the processor's cache.
 */
export const ADAMW_PIECE = 1 << 18;
/** Gradients of at least this many bytes are followed by a full garbage collection (gc.ts). */
const COLLECT_BYTES = 64 * 2 ** 20;

/**
 * The training graph's sessions, built once per run, and the weights, AdamW moments and gradients,
 * each one Float32Array for the whole run, updated in place: onnxruntime writes a step's gradients
 * into the gradient buffers (outputs given to the run), then the AdamW graph writes each parameter's
 * new value and moments over the old ones, a piece at a time. Nothing is held twice between runs
 * (docs/training-memory.md).
 */
export class TrainingRunner {
  private constructor(
    private readonly opts: RunnerOptions,
    private readonly sessions: Partial<Record<TrainingGraphMode, ort.InferenceSession>>,
    /** AdamW over a piece of one parameter, without and with weight decay. */
    private readonly adamw: { plain: ort.InferenceSession; decay: ort.InferenceSession },
    private readonly params: Tensors,
    private readonly expAvg: Tensors,
    private readonly expAvgSq: Tensors,
    /** The step's gradients (the accumulator too, with gradient accumulation). */
    private readonly grads: Tensors,
    /** LoRA's base weights: fed to every run, never updated. */
    private readonly frozen: Tensors,
    /** The session that holds the frozen base itself (frozenResident), if one does. */
    private readonly heldBy: TrainingGraphMode | null,
  ) {}

  private get specs(): ParamSpec[] {
    return trainableSpecs(this.opts.config, this.opts.lora);
  }

  /**
   * `params` and `optimizer` are the trained parameters' (the adapters' with LoRA); `frozen` the
   * base weights LoRA adapts. The runner updates `params` and `optimizer`'s arrays in place.
   */
  static async create(
    opts: RunnerOptions,
    params: Params,
    optimizer: OptimizerState,
    frozen?: Params,
  ): Promise<TrainingRunner> {
    if (!opts.lora !== !frozen)
      throw new Error('TrainingRunner: LoRA needs the frozen base weights, and only LoRA');
    const held = !!frozen && (opts.frozenResident ?? (opts.provider ?? 'cpu') !== 'cpu');
    const heldBy: TrainingGraphMode | null = held ? (opts.accumulation ? 'apply' : 'step') : null;
    const modes: TrainingGraphMode[] = !opts.accumulation
      ? ['step']
      : held
        ? ['apply']
        : ['accumulate', 'apply'];
    if (opts.evaluation) modes.push('loss');
    if (opts.logProbs) modes.push('logprobs');
    // No memory arena and no memory pattern: an arena keeps the most a session ever held for as long
    // as the session lives, one per session (accumulate, apply, loss); a memory pattern allocates one
    // block for every planned tensor of a run, laid out with gaps (what that cost at the peak is in
    // docs/training-memory.md). Without them each activation is allocated when computed and freed
    // after its last use.
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      executionProviders: [opts.provider ?? 'cpu'],
      graphOptimizationLevel: 'all',
      enableCpuMemArena: false,
      enableMemPattern: false,
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
        separateUpdate: true,
        recompute: opts.recompute ?? false,
        loss: opts.loss ?? 'sft',
        ...(opts.grpo ? { grpo: opts.grpo } : {}),
        ...(opts.lora ? { lora: opts.lora } : {}),
        ...(mode === heldBy ? { frozenWeights: frozen } : {}),
      });
      // The base's weights are initializers only in the session that holds it; elsewhere they are
      // inputs and nothing is left out of the model.
      const { model, externalData } = serializeForSession(graph, frozen ?? new Map());
      sessions[mode] = await ort.InferenceSession.create(model, {
        ...sessionOptions,
        ...(externalData.length ? { externalData } : {}),
      });
    }
    // The AdamW graph's arena holds one piece's temporaries, reused run after run.
    const adamwOptions = { ...sessionOptions, enableCpuMemArena: true, enableMemPattern: true };
    const adamw = {
      plain: await ort.InferenceSession.create(toBytes(buildAdamWGraph(opts.adamw, false)), adamwOptions),
      decay: await ort.InferenceSession.create(toBytes(buildAdamWGraph(opts.adamw, true)), adamwOptions),
    };
    const specs = trainableSpecs(opts.config, opts.lora);
    const grads: Params = new Map(specs.map((s) => [s.name, new Float32Array(params.get(s.name)!.length)]));
    return new TrainingRunner(
      opts,
      sessions,
      adamw,
      wrap(specs, params),
      wrap(specs, optimizer.expAvg),
      wrap(specs, optimizer.expAvgSq),
      wrap(specs, grads),
      frozen ? wrap(paramSpecs(opts.config), frozen) : new Map(),
      heldBy,
    );
  }

  /** The tokens and their layout (every mode); `training` adds what the loss reads. */
  private data(mb: MicroBatch, training = true): Record<string, ort.Tensor> {
    const dims = [this.opts.batchSize, this.opts.seqLen];
    const tokens = {
      [TRAIN_IO.inputIds]: new ort.Tensor('int64', mb.inputIds, dims),
      [TRAIN_IO.targets]: new ort.Tensor('int64', mb.targets, dims),
      [TRAIN_IO.positionIds]: new ort.Tensor('int64', mb.positionIds, dims),
      [TRAIN_IO.segmentIds]: new ort.Tensor('int64', mb.segmentIds, dims),
    };
    if (!training) return tokens;
    const feeds = { ...tokens, [TRAIN_IO.lossMask]: new ort.Tensor('float32', mb.lossMask, dims) };
    if (this.opts.loss !== 'grpo') return feeds;
    if (!mb.advantages || !mb.oldLogProbs)
      throw new Error('TrainingRunner: loss grpo needs micro-batches with advantages and old log-probs');
    const old = new ort.Tensor('float32', mb.oldLogProbs, dims);
    // Without a reference of its own the reference is the update's starting model, which is also
    // the policy that drew the paths: its log-probabilities are the old ones (fine-tune.ts scores
    // them once, before step 1).
    const ref = mb.refLogProbs ? new ort.Tensor('float32', mb.refLogProbs, dims) : old;
    return {
      ...feeds,
      [TRAIN_IO.advantages]: new ort.Tensor('float32', mb.advantages, dims),
      [TRAIN_IO.oldLogProbs]: old,
      ...((this.opts.grpo?.klBeta ?? 0) > 0 ? { [TRAIN_IO.refLogProbs]: ref } : {}),
    };
  }

  /** The weights a run of `mode` is fed: the trained ones, and the frozen base unless it holds it. */
  private weights(mode: TrainingGraphMode): Record<string, ort.Tensor> {
    const frozen = mode === this.heldBy ? {} : Object.fromEntries(this.frozen);
    return { ...frozen, ...Object.fromEntries(this.params) };
  }

  /** LoRA dropout's seed for micro-batch i of a step, when the graphs take one. */
  private dropout(step: number, i: number): Record<string, ort.Tensor> {
    if (!this.opts.lora || this.opts.lora.dropout === 0) return {};
    const seed = ((this.opts.dropoutSeed ?? 0) + step * 7919 + i * 104729) % 2147483647;
    return { [TRAIN_IO.loraDropoutSeed]: new ort.Tensor('int64', BigInt64Array.of(BigInt(seed)), []) };
  }

  /** The gradient buffers under `name(p)`: as a run's accumulator inputs, or as the outputs it writes. */
  private gradients(name: (p: string) => string): Record<string, ort.Tensor> {
    return Object.fromEntries(this.specs.map((s) => [name(s.name), this.grads.get(s.name)!]));
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
    const { loss, gradNorm, clip } = await this.computeGradients(micro, step);
    // A non-finite step is not applied: the caller stops and the last checkpoint stays the last good state.
    if (Number.isFinite(loss) && Number.isFinite(gradNorm)) await this.update(clip, lr, step);
    // The runs' results (copies of the gradients among them) are unreachable once the calls return.
    if (this.gradientBytes() >= COLLECT_BYTES) collectGarbage();
    return { loss, gradNorm };
  }

  /** The step's gradients, written into the gradient buffers; the loss, their norm and the clip factor. */
  private async computeGradients(
    micro: readonly MicroBatch[],
    step: number,
  ): Promise<{ loss: number; gradNorm: number; clip: number }> {
    // Every output is fetched (onnxruntime-node names the results by position among all outputs).
    const fetches = {
      [TRAIN_IO.loss]: null,
      [TRAIN_IO.gradNorm]: null,
      [TRAIN_IO.gradClip]: null,
      ...this.gradients(TRAIN_IO.grad),
    };
    const result = (out: ort.InferenceSession.OnnxValueMapType, loss: number) => ({
      loss,
      gradNorm: Number(out[TRAIN_IO.gradNorm].data[0]),
      clip: Number(out[TRAIN_IO.gradClip].data[0]),
    });
    if (!this.opts.accumulation) {
      const out = await this.sessions.step!.run(
        { ...this.data(micro[0]), ...this.weights('step'), ...this.dropout(step, 0) },
        fetches,
      );
      return result(out, Number(out[TRAIN_IO.loss].data[0]));
    }
    const total = micro.reduce((a, mb) => a + mb.lossTokens, 0);
    const share = (mb: MicroBatch) => (total === 0 ? 0 : mb.lossTokens / total);
    let loss = 0;
    // The accumulator starts at zero; each run adds its share over it in place.
    for (const t of this.grads.values()) (t.data as Float32Array).fill(0);
    // Without an accumulate session (the base held by apply's), apply adds the share the same way
    // and also outputs a norm and clip factor, which only the last run's are.
    const [accumulate, mode, written] = this.sessions.accumulate
      ? [
          this.sessions.accumulate,
          'accumulate' as const,
          (p: string) => TRAIN_IO.updated(TRAIN_IO.gradAcc(p)),
        ]
      : [this.sessions.apply!, 'apply' as const, null];
    for (const [i, mb] of micro.slice(0, -1).entries()) {
      const r = await accumulate.run(
        {
          ...this.data(mb),
          ...this.weights(mode),
          ...this.dropout(step, i),
          ...this.gradients(TRAIN_IO.gradAcc),
          [TRAIN_IO.gradScale]: scalar(share(mb)),
        },
        written ? { [TRAIN_IO.loss]: null, ...this.gradients(written) } : fetches,
      );
      loss += share(mb) * Number(r[TRAIN_IO.loss].data[0]);
    }
    const last = micro[micro.length - 1];
    const out = await this.sessions.apply!.run(
      {
        ...this.data(last),
        ...this.weights('apply'),
        ...this.dropout(step, micro.length - 1),
        ...this.gradients(TRAIN_IO.gradAcc),
        [TRAIN_IO.gradScale]: scalar(share(last)),
      },
      fetches,
    );
    return result(out, loss + share(last) * Number(out[TRAIN_IO.loss].data[0]));
  }

  private gradientBytes(): number {
    let bytes = 0;
    for (const t of this.grads.values()) bytes += (t.data as Float32Array).byteLength;
    return bytes;
  }

  /** AdamW over every parameter, piece by piece, each piece's outputs written over its inputs. */
  private async update(clip: number, lr: number, step: number): Promise<void> {
    // clip is a float32 the gradient run computed: as a number and back, the same bits.
    const scalars = {
      [TRAIN_IO.gradClip]: scalar(clip),
      [TRAIN_IO.lr]: scalar(lr),
      [TRAIN_IO.step]: scalar(step),
    };
    for (const s of this.specs) {
      const session = s.decay ? this.adamw.decay : this.adamw.plain;
      const arrays = [this.params, this.expAvg, this.expAvgSq, this.grads].map(
        (t) => t.get(s.name)!.data as Float32Array,
      );
      const [p, m, v, g] = arrays;
      for (let from = 0; from < p.length; from += ADAMW_PIECE) {
        const to = Math.min(p.length, from + ADAMW_PIECE);
        const x = { param: flat(p, from, to), expAvg: flat(m, from, to), expAvgSq: flat(v, from, to) };
        await session.run(
          {
            [ADAMW_IO.param]: x.param,
            [ADAMW_IO.expAvg]: x.expAvg,
            [ADAMW_IO.expAvgSq]: x.expAvgSq,
            [ADAMW_IO.grad]: flat(g, from, to),
            ...scalars,
          },
          {
            [TRAIN_IO.updated(ADAMW_IO.param)]: x.param,
            [TRAIN_IO.updated(ADAMW_IO.expAvg)]: x.expAvg,
            [TRAIN_IO.updated(ADAMW_IO.expAvgSq)]: x.expAvgSq,
          },
        );
      }
    }
  }

  /** Mean loss over every completion token of the batches. */
  async evalLoss(batches: readonly MicroBatch[]): Promise<number> {
    let sum = 0;
    let tokens = 0;
    for (const mb of batches) {
      if (mb.lossTokens === 0) continue;
      const r = await this.sessions.loss!.run({ ...this.data(mb), ...this.weights('loss') });
      sum += Number(r[TRAIN_IO.loss].data[0]) * mb.lossTokens;
      tokens += mb.lossTokens;
    }
    return tokens === 0 ? NaN : sum / tokens;
  }

  /**
   * log π(target) at every position of a micro-batch ([B·T], row-major) under the current weights
   * (base + adapters with LoRA), or under `model` (full weights of the same shape, e.g. a KL
   * reference; with LoRA fed as the base with zero adapters, whose update is exactly 0), at the grpo
   * temperature. Positions off the completions hold whatever the model gives there.
   */
  async tokenLogProbs(mb: MicroBatch, model?: Params): Promise<Float32Array> {
    let weights = this.weights('logprobs');
    if (model) {
      const zeros: Params = new Map(
        this.specs.map((s) => [
          s.name,
          new Float32Array((this.params.get(s.name)!.data as Float32Array).length),
        ]),
      );
      weights = {
        ...Object.fromEntries(wrap(paramSpecs(this.opts.config), model)),
        ...(this.opts.lora ? Object.fromEntries(wrap(this.specs, zeros)) : {}),
      };
    }
    const r = await this.sessions.logprobs!.run({ ...this.data(mb, false), ...weights });
    return r[TRAIN_IO.tokenLogProbs].data as Float32Array;
  }

  /**
   * The current weights and moments: the runner's own arrays, no copy (the next step changes them;
   * a checkpoint is written from them before it).
   */
  snapshot(): { params: Params; optimizer: OptimizerState } {
    return {
      params: unwrap(this.params),
      optimizer: { expAvg: unwrap(this.expAvg), expAvgSq: unwrap(this.expAvgSq) },
    };
  }

  /** Each session's inputs, by mode: what its runs are fed (where LoRA's base is held, for tests). */
  inputNames(): Partial<Record<TrainingGraphMode, readonly string[]>> {
    return Object.fromEntries(Object.entries(this.sessions).map(([mode, s]) => [mode, s.inputNames]));
  }

  async release(): Promise<void> {
    for (const s of [...Object.values(this.sessions), this.adamw.plain, this.adamw.decay]) await s.release();
  }
}

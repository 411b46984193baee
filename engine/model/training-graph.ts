import { z } from 'zod';
import { grad } from '../onnx/autodiff';
import type { DType } from '../onnx/dtype';
import { Graph, type Tensor } from '../onnx/graph';
import * as o from '../onnx/ops';
import type { LlamaConfig } from './config';
import {
  type LayerContext,
  decoderLayer,
  layerContext,
  llamaForward,
  lmHead,
  maskedCrossEntropy,
} from './llama';
import { type ChunkLoss, chunkedHead, headChunkRows } from './chunked-head';
import { type LoraConfig, loraHook, loraSpecs } from './lora';
import { GrpoConfig, type GrpoConfigInput, grpoLoss, grpoPerToken, tokenLogProbs } from './policy-loss';
import { type ParamSpec, paramSpecs } from './params';

/** AdamW and clipping hyperparameters, fixed when the graph is built (the learning rate is fed per step). */
export const AdamWConfig = z
  .object({
    beta1: z.number().min(0).lt(1).default(0.9),
    beta2: z.number().min(0).lt(1).default(0.95),
    eps: z.number().positive().default(1e-8),
    /** Decoupled weight decay, applied to matrices only. */
    weightDecay: z.number().min(0).default(0.1),
    /** Gradients are scaled so their global L2 norm is at most this. */
    maxGradNorm: z.number().positive().default(1.0),
  })
  .strict();
export type AdamWConfig = z.infer<typeof AdamWConfig>;

/**
 * Names of the training graph's inputs and outputs. Per parameter p: inputs `p`, `exp_avg.p`,
 * `exp_avg_sq.p` (PyTorch's AdamW state names); outputs `updated.p`, `updated.exp_avg.p`,
 * `updated.exp_avg_sq.p`.
 */
export const TRAIN_IO = {
  inputIds: 'input_ids',
  targets: 'targets',
  lossMask: 'loss_mask',
  lr: 'lr',
  step: 'step',
  loss: 'loss',
  gradNorm: 'grad_norm',
  logits: 'logits',
  expAvg: (p: string) => `exp_avg.${p}`,
  expAvgSq: (p: string) => `exp_avg_sq.${p}`,
  updated: (name: string) => `updated.${name}`,
  /** Packed rows: per-token rotary positions and example ids (see `packed`). */
  positionIds: 'position_ids',
  segmentIds: 'segment_ids',
  /** Gradient accumulation: this micro-batch's share of the step's completion tokens. */
  gradScale: 'grad_scale',
  /** LoRA dropout: int64 [] seed of this step's masks (graphs built with lora.dropout > 0). */
  loraDropoutSeed: 'lora_dropout_seed',
  gradAcc: (p: string) => `grad_acc.${p}`,
  /** `separateUpdate`: the gradient of p (summed with grad_acc.p when accumulating), not yet clipped. */
  grad: (p: string) => `grad.${p}`,
  /** `separateUpdate`: the factor clipping scales every gradient by, min(maxGradNorm / (norm + 1e-6), 1). */
  gradClip: 'grad_clip',
  /** loss 'grpo': per-token advantage, sampling-policy and reference log-probabilities, [B, T]. */
  advantages: 'advantages',
  oldLogProbs: 'old_logprobs',
  /** Only with klBeta > 0. */
  refLogProbs: 'ref_logprobs',
  /** Mode `logprobs`: log π(target) at every position, [B, T] (padding and prompt included). */
  tokenLogProbs: 'token_logprobs',
} as const;

/**
 * What one run of the graph does. The graph has no loop, so gradient accumulation over k
 * micro-batches is k runs: k − 1 of `accumulate` (grad_acc + grad_scale · g, kept as onnxruntime
 * tensors between runs) and one `apply` (the last micro-batch's gradients added, then clipping and
 * AdamW), i.e. still one run per micro-batch and no extra run for the update.
 * - `step`: one micro-batch is the whole step (forward, backward, clip, AdamW).
 * - `accumulate`: outputs `loss` and `updated.grad_acc.p`; no moments, no update.
 * - `apply`: `step` whose gradient is `grad_acc.p + grad_scale · g`.
 * - `loss`: forward and loss only (evaluation).
 * - `logprobs`: forward only, outputs `token_logprobs` (the policy's log-probabilities of the
 *   tokens, before a policy update; at the grpo temperature).
 */
export type TrainingGraphMode = 'step' | 'accumulate' | 'apply' | 'loss' | 'logprobs';

/** What the graph minimises: `sft` the masked cross-entropy, `grpo` the clipped policy-gradient loss (policy-loss.ts). */
export type TrainingLoss = 'sft' | 'grpo';

export interface TrainingGraphOptions {
  batchSize: number;
  seqLen: number;
  adamw?: Partial<AdamWConfig>;
  /** Also output the logits (tests compare them with the inference graph's). */
  outputLogits?: boolean;
  /** float32 for training; float64 to check the whole model's gradients numerically. */
  dtype?: DType;
  mode?: TrainingGraphMode;
  /**
   * Rows hold several examples: inputs `position_ids` (restarting at 0 for each example) and
   * `segment_ids` [B, T] int64; a token attends only to earlier tokens of its own segment, so a
   * packed example is computed exactly as if it had its row to itself.
   */
  packed?: boolean;
  /**
   * Train LoRA adapters on a frozen base (lora.ts): the base weights are inputs the graph only
   * reads, the adapters' parameters are what it differentiates and updates (AdamW state for them
   * only). Without it, every parameter trains.
   */
  lora?: LoraConfig;
  /**
   * LoRA's base weights as the graph's own constants (initializers) instead of inputs: a session on
   * a device then holds them there from its creation, where inputs cross to it on every run
   * (serializeForSession keeps them out of the protobuf). The arrays are read, never changed.
   */
  frozenWeights?: ReadonlyMap<string, Float32Array>;
  /**
   * Modes `step` and `apply` stop before the update: they output `grad.p` (the gradients, not yet
   * clipped) and `grad_clip`, and AdamW runs in the graph of buildAdamWGraph. The trainer does so to
   * update the weights and moments in place (docs/training-memory.md); the update is the same ops.
   */
  separateUpdate?: boolean;
  /**
   * Activation recomputation per layer: the backward pass recomputes each decoder layer's forward
   * from the layer's input, so only the layers' inputs are kept between the forward and the backward
   * pass, for one more forward pass per step. The same ops in the same order: the same gradients.
   */
  recompute?: boolean;
  /**
   * `sft` (default): mean cross-entropy over the completion tokens, the graph as it always was.
   * `grpo`: the clipped surrogate of policy-loss.ts, with the inputs `advantages`, `old_logprobs`
   * and (klBeta > 0) `ref_logprobs` [B, T]; `loss_mask` still selects the completion tokens.
   */
  loss?: TrainingLoss;
  /** ε, β and the sampling temperature of loss `grpo` (the temperature also of mode `logprobs`). */
  grpo?: GrpoConfigInput;
  /**
   * Tokens per chunk of the LM head and loss (chunked-head.ts). Default: chunks of at most
   * HEAD_CHUNK_BYTES per [rows, V] value, i.e. none for small vocabularies; 0 = never chunk.
   * Ignored with `outputLogits` (the logits are then wanted whole).
   */
  headChunkRows?: number;
}

/** The parameters a training graph updates: the adapters' with LoRA, else the whole model's. */
export function trainableSpecs(c: LlamaConfig, lora?: LoraConfig): ParamSpec[] {
  return lora ? loraSpecs(c, lora) : paramSpecs(c);
}

/**
 * One optimiser step as one graph: forward over [B, T], masked cross-entropy, backward by autodiff,
 * global-norm clipping, AdamW. Inputs: `input_ids` [B, T] int64, `targets` [B, T] int64 (the next
 * token at each position), `loss_mask` [B, T] (1 on completion tokens), `lr` and `step` (1-based,
 * for bias correction) scalars, the parameters and their moments. Shapes are concrete: the trainer
 * pads every batch to [B, T]. `mode` and `packed` select the variants the trainer needs.
 */
export function buildTrainingGraph(c: LlamaConfig, opts: TrainingGraphOptions): Graph {
  const g = trainingGraph(c, opts);
  // What only a gradient's seed names (a recomputed layer's own output, the forward of the layers
  // when only log-probabilities are asked for) is computed by nothing that is output.
  g.prune();
  return g;
}

function trainingGraph(c: LlamaConfig, opts: TrainingGraphOptions): Graph {
  const hp = AdamWConfig.parse(opts.adamw ?? {});
  const dtype = opts.dtype ?? 'float32';
  const mode = opts.mode ?? 'step';
  const { batchSize: B, seqLen: T } = opts;
  const g = new Graph(`llama_train_${mode}`);
  const grpo = GrpoConfig.parse(opts.grpo ?? {});
  const policy = opts.loss === 'grpo' && mode !== 'logprobs';
  const inputIds = g.input(TRAIN_IO.inputIds, 'int64', [B, T]);
  const targets = g.input(TRAIN_IO.targets, 'int64', [B, T]);
  const lossMask = mode === 'logprobs' ? null : g.input(TRAIN_IO.lossMask, dtype, [B, T]);
  const advantages = policy ? g.input(TRAIN_IO.advantages, dtype, [B, T]) : null;
  const oldLogProbs = policy ? g.input(TRAIN_IO.oldLogProbs, dtype, [B, T]) : null;
  const refLogProbs = policy && grpo.klBeta > 0 ? g.input(TRAIN_IO.refLogProbs, dtype, [B, T]) : null;
  const updates = (mode === 'step' || mode === 'apply') && !opts.separateUpdate;
  const lr = updates ? g.input(TRAIN_IO.lr, dtype, []) : null;
  const step = updates ? g.input(TRAIN_IO.step, dtype, []) : null;
  const specs = trainableSpecs(c, opts.lora);
  const params = specs.map((s) => g.input(s.name, dtype, s.shape));
  const frozenWeight = (s: ParamSpec): Tensor => {
    if (!opts.frozenWeights) return g.input(s.name, dtype, s.shape);
    const data = opts.frozenWeights.get(s.name);
    if (!data || dtype !== 'float32')
      throw new Error(`buildTrainingGraph: frozenWeights lacks ${s.name} or the graph is not float32`);
    return g.initializer(s.name, dtype, s.shape, data);
  };
  const frozen = opts.lora ? paramSpecs(c).map(frozenWeight) : [];
  const dropoutSeed =
    opts.lora && opts.lora.dropout > 0 && mode !== 'loss' && mode !== 'logprobs'
      ? g.input(TRAIN_IO.loraDropoutSeed, 'int64', [])
      : null;
  const expAvg = updates ? specs.map((s) => g.input(TRAIN_IO.expAvg(s.name), dtype, s.shape)) : [];
  const expAvgSq = updates ? specs.map((s) => g.input(TRAIN_IO.expAvgSq(s.name), dtype, s.shape)) : [];
  const accumulates = mode === 'accumulate' || mode === 'apply';
  const gradScale = accumulates ? g.input(TRAIN_IO.gradScale, dtype, []) : null;
  const gradAcc = accumulates ? specs.map((s) => g.input(TRAIN_IO.gradAcc(s.name), dtype, s.shape)) : [];

  const w = Object.fromEntries([
    ...specs.map((s, i) => [s.name, params[i]] as const),
    ...frozen.map((t) => [t.name, t] as const),
  ]);
  const lora = opts.lora ? loraHook(opts.lora, w, dropoutSeed) : undefined;
  // Key s <= query t, and within Mistral's sliding window (t - s < window) when it has one.
  const window = c.slidingWindow ?? Infinity;
  const causal = Array.from({ length: T * T }, (_, k) => {
    const [t, s] = [Math.floor(k / T), k % T];
    return s <= t && t - s < window ? 1 : 0;
  });
  let allowed = g.constant('bool', [T, T], causal); // [T, S]: key s <= query t
  let positionIds: Tensor;
  if (opts.packed) {
    positionIds = g.input(TRAIN_IO.positionIds, 'int64', [B, T]);
    const segments = g.input(TRAIN_IO.segmentIds, 'int64', [B, T]);
    const same = o.equal(o.unsqueeze(segments, [2]), o.unsqueeze(segments, [1])); // [B, T, S]
    allowed = o.unsqueeze(o.and(allowed, same), [1, 2]); // [B, 1, 1, T, S]
  } else {
    positionIds = g.constant(
      'int64',
      [1, T],
      Array.from({ length: T }, (_, t) => t),
    );
  }
  const forwardInputs = { inputIds, positionIds, allowed, ...(lora ? { lora } : {}) };
  const recompute = opts.recompute && mode !== 'loss' && mode !== 'logprobs';
  const rows =
    opts.outputLogits || opts.headChunkRows === 0 ? 0 : headChunkRows(c, B * T, dtype, opts.headChunkRows);
  const layerInputs: Tensor[] = [];
  let logits: Tensor | null = null;
  let top: Tensor | null = null; // the last layer's output, when the head is chunked
  let ctx: LayerContext | null = null;
  if (recompute || rows) {
    let x = o.gather(w['model.embed_tokens.weight'], inputIds);
    const layers = layerContext(c, w, forwardInputs);
    if (recompute) ctx = layers;
    for (let i = 0; i < c.nLayers; i++) {
      layerInputs.push(x);
      x = decoderLayer(c, w, i, x, layers).x;
    }
    layerInputs.push(x);
    if (rows) top = x;
    else logits = lmHead(c, w, x);
  } else logits = llamaForward(c, w, forwardInputs).logits;
  const temperature = mode === 'logprobs' || policy ? grpo.temperature : 1;
  if (mode === 'logprobs') {
    const logProbs = top
      ? chunkedHead({ c, w, top, targets, rows, temperature }, null, false).loss
      : tokenLogProbs(logits!, targets, temperature);
    g.output(logProbs, TRAIN_IO.tokenLogProbs);
    return g;
  }
  const trains = mode !== 'loss';
  let loss: Tensor;
  let grads: Tensor[] = [];
  if (top) {
    // Each chunk's share of the masked mean: its tokens' terms over the whole batch's mask sum.
    const denom = o.max(o.reduceSum(lossMask!), 1);
    const perToken = (logp: Tensor, rowsOf: (t: Tensor) => Tensor): Tensor =>
      policy
        ? grpoPerToken(
            {
              logProbs: logp,
              advantages: rowsOf(advantages!),
              oldLogProbs: rowsOf(oldLogProbs!),
              refLogProbs: refLogProbs ? rowsOf(refLogProbs) : null,
            },
            grpo,
          )
        : o.neg(logp);
    const share: ChunkLoss = (logp, rowsOf) =>
      o.div(o.reduceSum(o.mul(perToken(logp, rowsOf), rowsOf(lossMask!))), denom);
    const head = params.filter((p) => headUses(c, p.name));
    const out = chunkedHead({ c, w, top, targets, rows, temperature }, share, trains, head);
    loss = out.loss;
    g.output(loss, TRAIN_IO.loss);
    if (!trains) return g;
    grads = bodyGradients(c, w, ctx, out.upstream!, layerInputs, params, head, out.grads);
  } else {
    loss = policy
      ? grpoLoss(
          {
            logProbs: tokenLogProbs(logits!, targets, grpo.temperature),
            lossMask: lossMask!,
            advantages: advantages!,
            oldLogProbs: oldLogProbs!,
            refLogProbs,
          },
          grpo,
        )
      : maskedCrossEntropy(logits!, targets, lossMask!); // []
    g.output(loss, TRAIN_IO.loss);
    if (opts.outputLogits) g.output(logits!, TRAIN_IO.logits);
    if (!trains) return g;
    grads = ctx ? recomputedGradients(c, w, ctx, loss, layerInputs, params) : grad(loss, params);
  }

  if (gradScale) grads = grads.map((gr, i) => o.add(gradAcc[i], o.mul(gr, gradScale)));
  if (mode === 'accumulate') {
    specs.forEach((s, i) => g.output(grads[i], TRAIN_IO.updated(TRAIN_IO.gradAcc(s.name))));
    return g;
  }
  const sumSq = grads.map((gr) => o.reduceSum(o.mul(gr, gr))).reduce((a, b) => o.add(a, b));
  const gradNorm = o.sqrt(sumSq);
  const clip = o.min(o.div(hp.maxGradNorm, o.add(gradNorm, 1e-6)), 1); // []
  g.output(gradNorm, TRAIN_IO.gradNorm);
  if (opts.separateUpdate) {
    // Each gradient is written once, into its output; the clipping factor goes with them.
    specs.forEach((s, i) => g.output(grads[i], TRAIN_IO.grad(s.name)));
    g.output(clip, TRAIN_IO.gradClip);
    return g;
  }
  const bc = biasCorrections(hp, step!);
  specs.forEach((s, i) => {
    const next = adamw(hp, { param: params[i], expAvg: expAvg[i], expAvgSq: expAvgSq[i] }, grads[i], {
      ...bc,
      clip,
      lr: lr!,
      decay: s.decay,
    });
    g.output(next.param, TRAIN_IO.updated(s.name));
    g.output(next.expAvg, TRAIN_IO.updated(TRAIN_IO.expAvg(s.name)));
    g.output(next.expAvgSq, TRAIN_IO.updated(TRAIN_IO.expAvgSq(s.name)));
  });
  return g;
}

/**
 * d loss / d params, the decoder layers recomputed: the head's gradient down to the last layer's
 * output, then for each layer from the last, its forward built again from its input and
 * differentiated with the gradient of its output as the seed, down to the embedding. The copy's
 * input is its layer's input `after` (ops.ts) the layer above's gradients: x itself (a −0 becomes
 * +0; a non-finite gradient fails the step anyway), but onnxruntime can neither run the copy before
 * the backward pass reaches it nor merge it with the forward pass (it did both with Where(c, x, x),
 * which it reduces to x). Contributions to a parameter are summed in the order a single backward
 * pass sums them.
 */
function recomputedGradients(
  c: LlamaConfig,
  w: Readonly<Record<string, Tensor>>,
  ctx: LayerContext,
  loss: Tensor,
  layerInputs: readonly Tensor[],
  params: readonly Tensor[],
): Tensor[] {
  const top = layerInputs[layerInputs.length - 1];
  const head = params.filter((p) => headUses(c, p.name));
  const [upstream, ...headGrads] = grad(loss, [top, ...head], { stopAt: [top] });
  return bodyGradients(c, w, ctx, upstream, layerInputs, params, head, headGrads);
}

/**
 * d loss / d params from the head's part: `upstream` (d loss / d the last layer's output) and the
 * head parameters' gradients, one layer at a time from the last: with `ctx` each layer recomputed
 * from its input (above), without it differentiated on the forward pass's own values.
 */
function bodyGradients(
  c: LlamaConfig,
  w: Readonly<Record<string, Tensor>>,
  ctx: LayerContext | null,
  upstream: Tensor,
  layerInputs: readonly Tensor[],
  params: readonly Tensor[],
  head: readonly Tensor[],
  headGrads: readonly Tensor[],
): Tensor[] {
  const total = new Map<string, Tensor>();
  const addTo = (p: Tensor, gr: Tensor) => {
    const prev = total.get(p.name);
    total.set(p.name, prev ? o.add(prev, gr) : gr);
  };
  head.forEach((p, k) => addTo(p, headGrads[k]));
  // Each layer is recomputed only once the layer above is done, its weights' gradients included:
  // onnxruntime would otherwise leave every weight gradient to the end (nothing but an output
  // waits for one), keeping each layer's recomputed activations alive until then.
  // Without recomputation the same order frees each layer's activations once its backward is done.
  let previous = [upstream, ...headGrads];
  for (let i = c.nLayers - 1; i >= 0; i--) {
    const x = ctx ? o.after(layerInputs[i], previous) : layerInputs[i];
    const out = ctx ? decoderLayer(c, w, i, x, ctx).x : layerInputs[i + 1];
    const mine = params.filter((p) => p.name.startsWith(`model.layers.${i}.`));
    const seed = ctx ? upstream : o.after(upstream, previous.slice(1));
    const layerGrads = grad(out, [x, ...mine], { seed, stopAt: [x] });
    mine.forEach((p, k) => addTo(p, layerGrads[k + 1]));
    upstream = layerGrads[0];
    previous = layerGrads;
  }
  const embed = params.find((p) => p.name === 'model.embed_tokens.weight');
  if (embed) addTo(embed, grad(layerInputs[0], [embed], { seed: upstream })[0]);
  return params.map((p) => total.get(p.name) ?? o.full(p, p.shape, 0));
}

/** Parameters the final norm and the LM head read (the embedding when tied). */
const headUses = (c: LlamaConfig, name: string): boolean =>
  name === 'model.norm.weight' ||
  name === 'lm_head.weight' ||
  (c.tieEmbeddings && name === 'model.embed_tokens.weight');

/** 1 − β₁ᵗ and 1 − β₂ᵗ at the (1-based) step. */
function biasCorrections(hp: AdamWConfig, step: Tensor): { bc1: Tensor; bc2: Tensor } {
  const g = step.graph;
  return {
    bc1: o.sub(1, o.pow(g.scalar(hp.beta1, step.dtype), step)),
    bc2: o.sub(1, o.pow(g.scalar(hp.beta2, step.dtype), step)),
  };
}

interface AdamWTensors {
  param: Tensor;
  expAvg: Tensor;
  expAvgSq: Tensor;
}

/**
 * One AdamW step of one parameter from its unclipped gradient (PyTorch's AdamW: bias-corrected
 * moments, decoupled weight decay on matrices). The training graph and buildAdamWGraph both build it
 * here, so an update in place computes exactly what the single-graph step does.
 */
function adamw(
  hp: AdamWConfig,
  x: AdamWTensors,
  grad: Tensor,
  s: { clip: Tensor; lr: Tensor; bc1: Tensor; bc2: Tensor; decay: boolean },
): AdamWTensors {
  const gr = o.mul(grad, s.clip);
  const m = o.add(o.mul(x.expAvg, hp.beta1), o.mul(gr, 1 - hp.beta1));
  const v = o.add(o.mul(x.expAvgSq, hp.beta2), o.mul(o.mul(gr, gr), 1 - hp.beta2));
  let update: Tensor = o.div(o.div(m, s.bc1), o.add(o.sqrt(o.div(v, s.bc2)), hp.eps));
  if (s.decay && hp.weightDecay > 0) update = o.add(update, o.mul(x.param, hp.weightDecay));
  return { param: o.sub(x.param, o.mul(update, s.lr)), expAvg: m, expAvgSq: v };
}

/**
 * AdamW alone, over a flat run of `n` elements of one parameter (any length: the trainer updates a
 * parameter in pieces, each piece's outputs written over its inputs). Inputs: `param`, `exp_avg`,
 * `exp_avg_sq`, `grad` [n], `grad_clip`, `lr`, `step` []; outputs `updated.<input>` for the first
 * three. `decay`: the parameter takes weight decay (matrices).
 */
export function buildAdamWGraph(adamwConfig: Partial<AdamWConfig>, decay: boolean): Graph {
  const hp = AdamWConfig.parse(adamwConfig);
  const g = new Graph(decay ? 'adamw_decay' : 'adamw');
  const n = ['n'];
  const x = {
    param: g.input(ADAMW_IO.param, 'float32', n),
    expAvg: g.input(ADAMW_IO.expAvg, 'float32', n),
    expAvgSq: g.input(ADAMW_IO.expAvgSq, 'float32', n),
  };
  const grad = g.input(ADAMW_IO.grad, 'float32', n);
  const clip = g.input(TRAIN_IO.gradClip, 'float32', []);
  const lr = g.input(TRAIN_IO.lr, 'float32', []);
  const step = g.input(TRAIN_IO.step, 'float32', []);
  const next = adamw(hp, x, grad, { ...biasCorrections(hp, step), clip, lr, decay });
  g.output(next.param, TRAIN_IO.updated(ADAMW_IO.param));
  g.output(next.expAvg, TRAIN_IO.updated(ADAMW_IO.expAvg));
  g.output(next.expAvgSq, TRAIN_IO.updated(ADAMW_IO.expAvgSq));
  return g;
}

/** Input names of buildAdamWGraph. */
export const ADAMW_IO = {
  param: 'param',
  expAvg: 'exp_avg',
  expAvgSq: 'exp_avg_sq',
  grad: 'grad',
} as const;

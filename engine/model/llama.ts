import type { Tensor } from '../onnx/graph';
import * as o from '../onnx/ops';
import { type LlamaConfig, headDim } from './config';
import type { LoraHook } from './lora';
import { rotaryAngles } from './rope';

/** The model's weights as graph tensors (initializers or inputs), by Hugging Face name. */
export type Weights = Readonly<Record<string, Tensor>>;

export interface KeyValue {
  /** [B, KV, S, D] */
  key: Tensor;
  /** [B, KV, S, D] */
  value: Tensor;
}

export interface ForwardInputs {
  /** [B, T] int64 */
  inputIds: Tensor;
  /** [B, T] (or [1, T]) int64: rotary positions. */
  positionIds: Tensor;
  /** bool, broadcastable to the scores [B, KV, G, T, S]: true where query t may attend to key s. */
  allowed: Tensor;
  /** Per layer, the keys and values of earlier positions, [B, KV, P, D]. */
  past?: readonly KeyValue[];
  /** LoRA adapters on the projections (training with a frozen base). */
  lora?: LoraHook;
}

export interface ForwardOutputs {
  /** [B, T, V] */
  logits: Tensor;
  /** Per layer, past and new keys and values, [B, KV, P + T, D]. */
  present: KeyValue[];
}

/** x · Wᵀ (+ b) with W stored [out, in] as in Hugging Face. */
export function linear(x: Tensor, w: Tensor, b?: Tensor): Tensor {
  const dims = x.shape;
  const out = w.shape[0];
  let y: Tensor;
  if (x.rank > 2 && typeof out === 'number' && dims.every((d): d is number => typeof d === 'number')) {
    // Concrete shapes (the training graph): one GEMM over all B·T rows, so the weight gradient is
    // one xᵀ·g with B·T as its inner dimension rather than B products summed afterwards.
    const lead = dims.slice(0, -1);
    y = o.reshape(
      o.matmul(
        o.reshape(x, [lead.reduce((a, c) => a * c, 1), dims[dims.length - 1]]),
        o.transpose(w, [1, 0]),
      ),
      [...lead, out],
    );
  } else y = o.matmul(x, o.transpose(w, [1, 0]));
  return b ? o.add(y, b) : y;
}

/**
 * A Hugging Face linear module by prefix: its weight, its bias when the config gives it one, and
 * its LoRA update when it is adapted (training with adapters).
 */
export function proj(w: Weights, name: string, x: Tensor, bias: boolean, lora?: LoraHook): Tensor {
  const y = linear(x, w[`${name}.weight`], bias ? w[`${name}.bias`] : undefined);
  const delta = lora?.delta(name, x);
  return delta ? o.add(y, delta) : y;
}

/** x / sqrt(mean(x²) + eps) · gain over the last axis. */
export function rmsNorm(x: Tensor, gain: Tensor, eps: number): Tensor {
  const ms = o.reduceMean(o.mul(x, x), [-1], true); // [..., 1]
  return o.mul(o.div(x, o.sqrt(o.add(ms, eps))), gain);
}

export const silu = (x: Tensor): Tensor => o.mul(x, o.sigmoid(x));

/** x·cos + rotate_half(x)·sin, where rotate_half(x) = [-x₂, x₁] over the halves of the last axis. */
export function applyRotary(x: Tensor, cos: Tensor, sin: Tensor, d: number): Tensor {
  const x1 = o.slice(x, [0], [d / 2], [-1]);
  const x2 = o.slice(x, [d / 2], [d], [-1]);
  return o.add(o.mul(x, cos), o.mul(o.concat([o.neg(x2), x1], -1), sin));
}

/**
 * One layer's queries, keys and values for the tokens of this run, rotary applied. Queries are laid
 * out [B, KV, G, T, D] (G = query heads per key/value head) so MatMul's broadcasting shares each
 * key/value head among its G query heads without copying it. Qwen3 normalises each head before
 * rotary; Qwen2 and Llama's attention_bias add biases.
 */
export function attentionInputs(
  c: LlamaConfig,
  w: Weights,
  a: string,
  h: Tensor,
  rot: { cos: Tensor; sin: Tensor },
  lora?: LoraHook,
): { q: Tensor; k: Tensor; v: Tensor } {
  const d = headDim(c);
  const kvh = c.nKvHeads;
  const groups = c.nHeads / kvh;
  let q = o.reshape(proj(w, `${a}.q_proj`, h, c.qkvBias, lora), [0, 0, kvh, groups, d]); // [B, T, KV, G, D]
  let k = o.reshape(proj(w, `${a}.k_proj`, h, c.qkvBias, lora), [0, 0, kvh, d]); // [B, T, KV, D]
  const v = o.reshape(proj(w, `${a}.v_proj`, h, c.qkvBias, lora), [0, 0, kvh, d]);
  if (c.qkNorm) {
    q = rmsNorm(q, w[`${a}.q_norm.weight`], c.rmsNormEps);
    k = rmsNorm(k, w[`${a}.k_norm.weight`], c.rmsNormEps);
  }
  q = o.transpose(q, [0, 2, 3, 1, 4]); // [B, KV, G, T, D]
  k = o.transpose(k, [0, 2, 1, 3]); // [B, KV, T, D]
  return {
    q: applyRotary(q, o.unsqueeze(rot.cos, [1, 2]), o.unsqueeze(rot.sin, [1, 2]), d),
    k: applyRotary(k, o.unsqueeze(rot.cos, [1]), o.unsqueeze(rot.sin, [1]), d),
    v: o.transpose(v, [0, 2, 1, 3]), // [B, KV, T, D]
  };
}

/** The SwiGLU MLP: down(silu(gate(h)) · up(h)). */
export function mlp(c: LlamaConfig, w: Weights, p: string, h: Tensor, lora?: LoraHook): Tensor {
  const gate = silu(proj(w, `${p}.mlp.gate_proj`, h, c.mlpBias, lora)); // [B, T, F]
  const up = proj(w, `${p}.mlp.up_proj`, h, c.mlpBias, lora); // [B, T, F]
  return proj(w, `${p}.mlp.down_proj`, o.mul(gate, up), c.mlpBias, lora);
}

/** Grouped-query attention over past and new keys (scores [B, KV, G, T, S]). */
function attention(
  c: LlamaConfig,
  w: Weights,
  a: string,
  h: Tensor,
  rot: { cos: Tensor; sin: Tensor },
  maskBias: Tensor,
  past: KeyValue | undefined,
  lora: LoraHook | undefined,
): { out: Tensor; present: KeyValue } {
  const d = headDim(c);
  const { q, k: kNew, v: vNew } = attentionInputs(c, w, a, h, rot, lora);
  const k = past ? o.concat([past.key, kNew], 2) : kNew; // [B, KV, S, D]
  const v = past ? o.concat([past.value, vNew], 2) : vNew;
  const kT = o.transpose(o.unsqueeze(k, [2]), [0, 1, 2, 4, 3]); // [B, KV, 1, D, S]
  const scores = o.div(o.matmul(q, kT), Math.sqrt(d)); // [B, KV, G, T, S]
  const probs = o.softmax(o.add(scores, maskBias), -1);
  const ctx = o.matmul(probs, o.unsqueeze(v, [2])); // [B, KV, G, T, D]
  const merged = o.reshape(o.transpose(ctx, [0, 3, 1, 2, 4]), [0, 0, c.nHeads * d]); // [B, T, H·D]
  return { out: proj(w, `${a}.o_proj`, merged, c.outputBias, lora), present: { key: k, value: v } };
}

/** What every layer of one forward pass shares: the rotary angles and the attention mask's bias. */
export interface LayerContext {
  rot: { cos: Tensor; sin: Tensor };
  /** 0 where a query may attend to a key, -1e9 elsewhere (broadcastable to the scores). */
  maskBias: Tensor;
  lora?: LoraHook;
}

export function layerContext(c: LlamaConfig, w: Weights, inp: ForwardInputs): LayerContext {
  const embed = w['model.embed_tokens.weight'];
  const dtype = embed.dtype;
  // The mask as an additive bias, built once for every layer: 0 where allowed (scores + 0 is the
  // score exactly), -1e9 elsewhere (exp underflows to 0 as with a Where). Adding it costs one pass
  // over the scores and nothing in the backward pass, where a Where over [B, KV, G, T, S] took two
  // (the step times before and after: docs/demo-history.md, 2026-11-24). A large finite negative
  // rather than -inf: a fully masked row (a padding query) stays finite.
  const g = embed.graph;
  const maskBias = o.where(inp.allowed, g.scalar(0, dtype), g.scalar(-1e9, dtype)); // like allowed
  return { rot: rotaryAngles(inp.positionIds, c, dtype), maskBias, ...(inp.lora ? { lora: inp.lora } : {}) };
}

/** Decoder layer i: x + attention(RMSNorm(x)), then + SwiGLU MLP(RMSNorm(·)). */
export function decoderLayer(
  c: LlamaConfig,
  w: Weights,
  i: number,
  x: Tensor,
  ctx: LayerContext,
  past?: KeyValue,
): { x: Tensor; present: KeyValue } {
  const p = `model.layers.${i}`;
  const h = rmsNorm(x, w[`${p}.input_layernorm.weight`], c.rmsNormEps);
  const att = attention(c, w, `${p}.self_attn`, h, ctx.rot, ctx.maskBias, past, ctx.lora);
  const mid = o.add(x, att.out);
  const out = o.add(
    mid,
    mlp(c, w, p, rmsNorm(mid, w[`${p}.post_attention_layernorm.weight`], c.rmsNormEps), ctx.lora),
  );
  return { x: out, present: att.present };
}

/** The final RMSNorm and the LM head (the embedding when tied). */
export function lmHead(c: LlamaConfig, w: Weights, x: Tensor): Tensor {
  const final = rmsNorm(x, w['model.norm.weight'], c.rmsNormEps);
  return linear(final, c.tieEmbeddings ? w['model.embed_tokens.weight'] : w['lm_head.weight']);
}

/** The decoder: embedding, nLayers × (RMSNorm, attention, RMSNorm, SwiGLU MLP), RMSNorm, LM head. */
export function llamaForward(c: LlamaConfig, w: Weights, inp: ForwardInputs): ForwardOutputs {
  let x = o.gather(w['model.embed_tokens.weight'], inp.inputIds); // [B, T, C]
  const ctx = layerContext(c, w, inp);
  const present: KeyValue[] = [];
  for (let i = 0; i < c.nLayers; i++) {
    const layer = decoderLayer(c, w, i, x, ctx, inp.past?.[i]);
    present.push(layer.present);
    x = layer.x;
  }
  return { logits: lmHead(c, w, x), present };
}

/**
 * Mean next-token cross-entropy over the positions where `lossMask` is 1 (completion tokens):
 * sum(mask · −log p(target)) / max(sum(mask), 1). The target's log-probability is gathered, not
 * picked by a one-hot [B, T, V] product: nothing the size of the logits is kept beside them for the
 * backward pass (GatherElements' gradient scatters into one zero tensor there).
 */
export function maskedCrossEntropy(logits: Tensor, targets: Tensor, lossMask: Tensor): Tensor {
  const logp = o.logSoftmax(logits, -1); // [B, T, V]
  const picked = o.gatherElements(logp, o.unsqueeze(targets, [-1]), -1); // [B, T, 1]
  const nll = o.neg(o.squeeze(picked, [-1])); // [B, T]
  return o.div(o.reduceSum(o.mul(nll, lossMask)), o.max(o.reduceSum(lossMask), 1)); // []
}

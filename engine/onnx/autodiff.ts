import { isFloat } from './dtype';
import type { Tensor } from './graph';
import { GRAD_RULES } from './grad-rules';
import * as o from './ops';
import { formatShape, isConcrete, sameShape } from './shape';

export interface GradOptions {
  /** Gradient of the final result with respect to `loss` (default: ones, i.e. d sum(loss)). */
  seed?: Tensor;
  /**
   * Tensors the backward pass stops at: their gradients are computed (when asked for in `wrt`), but
   * nothing flows on into the nodes that produced them. Differentiates one segment of a graph.
   */
  stopAt?: readonly Tensor[];
}

/**
 * Reverse-mode autodiff: appends to the loss's graph the nodes computing d loss / d w for each w in
 * `wrt`, and returns those gradients in order. Nodes are visited once, in reverse of the order they
 * were added (which is topological); a tensor read by several nodes receives the sum of their
 * contributions. Only float tensors carry gradients. A `wrt` tensor the loss does not depend on gets
 * zeros.
 */
export function grad(loss: Tensor, wrt: readonly Tensor[], opts: GradOptions = {}): Tensor[] {
  const graph = loss.graph;
  for (const w of wrt) {
    if (w.graph !== graph) throw new Error(`grad: ${w} is not in the loss's graph`);
    if (!isFloat(w.dtype)) throw new Error(`grad: ${w} is not a float tensor`);
  }
  const requires = new Set(wrt.map((w) => w.name));
  for (const n of graph.nodes)
    if (n.inputs.some((t) => t && requires.has(t.name)))
      for (const out of n.outputs) if (isFloat(out.dtype)) requires.add(out.name);

  const grads = new Map<string, Tensor>();
  const seed = opts.seed ?? o.full(loss, isConcrete(loss.shape) ? loss.shape : o.shapeOf(loss), 1);
  if (requires.has(loss.name)) grads.set(loss.name, seed);

  const stop = new Set((opts.stopAt ?? []).map((t) => t.name));
  for (let k = graph.nodes.length - 1; k >= 0 && requires.has(loss.name); k--) {
    const node = graph.nodes[k];
    if (!node.outputs.some((t) => grads.has(t.name))) continue;
    if (node.outputs.some((t) => stop.has(t.name))) continue;
    if (!node.inputs.some((t) => t && requires.has(t.name))) continue;
    const rule = GRAD_RULES[node.op];
    if (!rule) {
      const ins = node.inputs.map((t) => (t ? `${t.dtype}${formatShape(t.shape)}` : '-')).join(', ');
      throw new Error(
        `no gradient rule for op '${node.op}' (node ${node.name}, inputs ${ins}); it lies between ` +
          `[${wrt.map((w) => w.name).join(', ')}] and ${loss.name}`,
      );
    }
    const gy = node.outputs.map((t) => grads.get(t.name) ?? null);
    const thunks = rule({
      node,
      x: node.inputs as Tensor[],
      y: node.outputs,
      gy,
      get g() {
        return gy[0] ?? o.full(node.outputs[0], o.shapeOf(node.outputs[0]), 0);
      },
    });
    node.inputs.forEach((t, i) => {
      if (!t || !requires.has(t.name)) return;
      const thunk = thunks[i];
      if (!thunk) throw new Error(`gradient rule for ${node.op} gives no gradient for its input ${i} (${t})`);
      const gx = thunk();
      const sizesDiffer = isConcrete(gx.shape) && isConcrete(t.shape) && !sameShape(gx.shape, t.shape);
      if (sizesDiffer || gx.dtype !== t.dtype)
        throw new Error(`gradient rule for ${node.op} (node ${node.name}) built ${gx} for input ${t}`);
      const prev = grads.get(t.name);
      grads.set(t.name, prev ? o.add(prev, gx) : gx);
    });
  }
  return wrt.map((w) => grads.get(w.name) ?? o.full(w, isConcrete(w.shape) ? w.shape : o.shapeOf(w), 0));
}

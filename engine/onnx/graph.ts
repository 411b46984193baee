import type { Attrs } from './attrs';
import { type AnyTypedArray, type DType } from './dtype';
import { inferOutputs } from './infer';
import { type Dim, type Shape, formatShape, isConcrete, numel } from './shape';

/**
 * A value in a graph under construction: its name, element type and static shape. `known` holds
 * the values of small integer tensors the builder can see at build time (constants, and the outputs
 * of Shape/Gather/Concat on them, possibly symbolic), so that Reshape, Expand, Slice and friends can
 * infer their output shapes.
 */
export class Tensor {
  constructor(
    readonly graph: Graph,
    readonly name: string,
    readonly dtype: DType,
    readonly shape: Shape,
    readonly known?: readonly Dim[],
  ) {}
  get rank(): number {
    return this.shape.length;
  }
  toString(): string {
    return `${this.name}: ${this.dtype}${formatShape(this.shape)}`;
  }
}

export interface Node {
  readonly op: string;
  readonly name: string;
  /** null stands for an omitted optional input. */
  readonly inputs: readonly (Tensor | null)[];
  readonly outputs: readonly Tensor[];
  readonly attrs: Attrs;
}

export interface Initializer {
  readonly tensor: Tensor;
  readonly data: AnyTypedArray | readonly number[];
}

/** Small integer constants keep their values for shape inference. */
const KNOWN_LIMIT = 64;

export class Graph {
  readonly inputs: Tensor[] = [];
  readonly outputs: Tensor[] = [];
  readonly initializers: Initializer[] = [];
  readonly nodes: Node[] = [];
  /** The node that produced each tensor (absent for inputs and initializers). */
  readonly producer = new Map<string, Node>();
  private readonly names = new Set<string>();
  private readonly counters = new Map<string, number>();
  private readonly scalarCache = new Map<string, Tensor>();

  constructor(readonly name = 'graph') {}

  /** A name not used yet in this graph, derived from `prefix`. */
  fresh(prefix: string): string {
    let n = this.counters.get(prefix) ?? 0;
    let name = `${prefix}_${n}`;
    while (this.names.has(name)) name = `${prefix}_${++n}`;
    this.counters.set(prefix, n + 1);
    return name;
  }

  private claim(name: string): string {
    if (this.names.has(name)) throw new Error(`graph ${this.name}: the name '${name}' is already used`);
    this.names.add(name);
    return name;
  }

  input(name: string, dtype: DType, shape: Shape): Tensor {
    const t = new Tensor(this, this.claim(name), dtype, shape);
    this.inputs.push(t);
    return t;
  }

  /** A named constant tensor stored in the model (weights in an inference graph). */
  initializer(
    name: string,
    dtype: DType,
    shape: readonly number[],
    data: AnyTypedArray | readonly number[],
  ): Tensor {
    if (data.length !== numel(shape))
      throw new Error(`initializer ${name}: ${data.length} values for shape ${formatShape(shape)}`);
    const known =
      (dtype === 'int64' || dtype === 'int32') && data.length <= KNOWN_LIMIT
        ? Array.from(data as ArrayLike<number | bigint>, Number)
        : undefined;
    const t = new Tensor(this, this.claim(name), dtype, shape, known);
    this.initializers.push({ tensor: t, data });
    return t;
  }

  /** An anonymous constant; scalars are shared. */
  constant(dtype: DType, shape: readonly number[], data: AnyTypedArray | readonly number[]): Tensor {
    if (shape.length === 0) {
      const key = `${dtype}:${Number(data[0])}`;
      const hit = this.scalarCache.get(key);
      if (hit) return hit;
      const t = this.initializer(this.fresh('const'), dtype, shape, data);
      this.scalarCache.set(key, t);
      return t;
    }
    return this.initializer(this.fresh('const'), dtype, shape, data);
  }

  scalar(value: number, dtype: DType): Tensor {
    return this.constant(dtype, [], [value]);
  }

  /** A 1-D int64 constant (axes, shapes, starts/ends). */
  ints(values: readonly number[]): Tensor {
    return this.constant('int64', [values.length], values);
  }

  /** Marks a tensor as a graph output, renaming it through Identity when a name is given. */
  output(t: Tensor, name?: string): Tensor {
    this.own(t, 'output');
    let out = t;
    const isSource = !this.producer.has(t.name) || this.outputs.includes(t);
    if ((name !== undefined && name !== t.name) || isSource) {
      out = this.op('Identity', [t], {}, { names: [name ?? this.fresh(`${t.name}_out`)] })[0];
    }
    this.outputs.push(out);
    return out;
  }

  /**
   * Appends a node. Output dtypes and shapes come from the inference table; a mismatch there throws
   * a message naming the op and its input shapes.
   */
  op(
    op: string,
    inputs: readonly (Tensor | null)[],
    attrs: Attrs = {},
    opts: { names?: readonly string[]; outputs?: number } = {},
  ): Tensor[] {
    inputs.forEach((t) => t && this.own(t, op));
    let infos;
    try {
      infos = inferOutputs(op, inputs, attrs, opts.outputs ?? 1, () => this.fresh('?'));
    } catch (e) {
      const shapes = inputs.map((t) => (t ? `${t.dtype}${formatShape(t.shape)}` : '-')).join(', ');
      throw new Error(`${op}(${shapes}): ${(e as Error).message}`);
    }
    const nodeName = this.fresh(op);
    const outputs = infos.map((info, i) => {
      const name = this.claim(opts.names?.[i] ?? this.fresh(`${nodeName}_out`));
      const known = info.known && info.known.length <= KNOWN_LIMIT ? info.known : undefined;
      return new Tensor(this, name, info.dtype, info.shape, known);
    });
    const node: Node = { op, name: nodeName, inputs, outputs, attrs };
    this.nodes.push(node);
    for (const t of outputs) this.producer.set(t.name, node);
    return outputs;
  }

  /**
   * Removes the nodes no output depends on (and the constants only they read), and returns how many
   * nodes. onnxruntime runs such nodes
   * anyway, late (nothing waits for them), so whatever they read stays allocated until then: the
   * forward part of a recomputed layer that only its gradient's seed names, for one.
   */
  prune(): number {
    const needed = new Set(this.outputs.map((t) => t.name));
    const keep = new Array<boolean>(this.nodes.length).fill(false);
    for (let k = this.nodes.length - 1; k >= 0; k--) {
      const node = this.nodes[k];
      if (!node.outputs.some((t) => needed.has(t.name))) continue;
      keep[k] = true;
      for (const t of node.inputs) if (t) needed.add(t.name);
    }
    const kept = this.nodes.filter((_, k) => keep[k]);
    const removed = this.nodes.length - kept.length;
    for (const [k, node] of this.nodes.entries())
      if (!keep[k]) for (const t of node.outputs) this.producer.delete(t.name);
    this.nodes.length = 0;
    for (const node of kept) this.nodes.push(node);
    // The constants only removed nodes read (their axes, shapes, scalars) go with them.
    const unread = new Set(this.initializers.map((i) => i.tensor.name).filter((n) => !needed.has(n)));
    const initializers = this.initializers.filter((i) => !unread.has(i.tensor.name));
    this.initializers.length = 0;
    for (const i of initializers) this.initializers.push(i);
    for (const [key, t] of [...this.scalarCache]) if (unread.has(t.name)) this.scalarCache.delete(key);
    return removed;
  }

  private own(t: Tensor, what: string): void {
    if (t.graph !== this)
      throw new Error(`${what}: tensor ${t.name} belongs to graph ${t.graph.name}, not ${this.name}`);
  }

  /** Parameter count of float initializers (weights). */
  parameterCount(): number {
    return this.initializers
      .filter((i) => i.tensor.dtype.startsWith('float') && isConcrete(i.tensor.shape))
      .reduce((a, i) => a + i.data.length, 0);
  }
}

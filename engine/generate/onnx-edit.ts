import { onnx } from 'onnx-proto';

// Small edits of ONNX protobuf graphs the engine did not build (decoder-loop.ts wraps an export's
// graph): value infos, nodes and constants written by hand, renaming, ordering.

export const tensorType = (elemType: number, dims?: (number | string)[]): onnx.ITypeProto => ({
  tensorType: {
    elemType,
    ...(dims
      ? { shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } }
      : {}),
  },
});
export const valueInfo = (
  name: string,
  elemType: number,
  dims?: (number | string)[],
): onnx.IValueInfoProto => ({
  name,
  type: tensorType(elemType, dims),
});
export const node = (
  opType: string,
  input: string[],
  output: string[],
  attribute: onnx.IAttributeProto[] = [],
): onnx.INodeProto => ({ opType, input, output, name: output[0], attribute });
export const int64s = (name: string, values: number[], dims = [values.length]): onnx.ITensorProto => ({
  name,
  dataType: onnx.TensorProto.DataType.INT64,
  dims,
  int64Data: values,
});

/** Renames values in nodes (and the subgraphs of If / Loop / Scan nodes), in place. */
export function renameValues(nodes: onnx.INodeProto[], rename: Map<string, string>): void {
  const r = (n: string) => rename.get(n) ?? n;
  for (const n of nodes) {
    n.input = (n.input ?? []).map(r);
    n.output = (n.output ?? []).map(r);
    for (const a of n.attribute ?? [])
      for (const g of [a.g, ...(a.graphs ?? [])]) if (g) renameGraph(g, rename);
  }
}
function renameGraph(g: onnx.IGraphProto, rename: Map<string, string>): void {
  renameValues(g.node ?? [], rename);
  for (const v of [...(g.output ?? []), ...(g.input ?? [])]) v.name = rename.get(v.name ?? '') ?? v.name;
}

/**
 * The nodes in an order where each comes after the nodes whose outputs it reads (the original order
 * where it already is). Exports are not always sorted (onnxruntime-genai's is not); onnxruntime
 * sorts a main graph itself but requires a Loop body to be sorted. Values no node here produces
 * (inputs, initializers, the enclosing scope's) count as ready. A node with subgraphs (If, Loop,
 * Scan: Optimum's merged decoders) also waits for the values its subgraphs read from this scope.
 */
export function topologicalOrder(nodes: readonly onnx.INodeProto[]): onnx.INodeProto[] {
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => (n.output ?? []).forEach((o) => o && producer.set(o, i)));
  const reads = nodes.map((n) => [...(n.input ?? []), ...subgraphReads(n)]);
  const placed = new Array<boolean>(nodes.length).fill(false);
  const out: onnx.INodeProto[] = [];
  const visit = (i: number) => {
    // Iterative depth-first: a real decoder's dependency chains are thousands of nodes long.
    const stack: [number, number][] = [[i, 0]];
    const onStack = new Set<number>([i]);
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const inputs = reads[top[0]];
      if (top[1] < inputs.length) {
        const dep = producer.get(inputs[top[1]++]);
        if (dep === undefined || placed[dep]) continue;
        if (onStack.has(dep)) throw new Error(`the decoder's graph has a cycle through ${nodes[dep].name}`);
        stack.push([dep, 0]);
        onStack.add(dep);
      } else {
        stack.pop();
        onStack.delete(top[0]);
        placed[top[0]] = true;
        out.push(nodes[top[0]]);
      }
    }
  };
  nodes.forEach((_, i) => placed[i] || visit(i));
  return out;
}

/** Every value name a node's subgraphs read (their own values included; only this scope's matter). */
function subgraphReads(n: onnx.INodeProto): string[] {
  const out: string[] = [];
  for (const a of n.attribute ?? [])
    for (const g of [a.g, ...(a.graphs ?? [])])
      if (g) {
        for (const inner of g.node ?? []) out.push(...(inner.input ?? []), ...subgraphReads(inner));
        for (const o of g.output ?? []) out.push(o.name ?? '');
      }
  return out;
}

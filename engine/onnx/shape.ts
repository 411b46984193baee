/**
 * Static shapes. A dimension is a number, or a string naming a symbolic dimension ('batch',
 * 'past_sequence_length') that is only known when the graph runs. Two symbolic dimensions are equal
 * only when their names are; the builder never guesses that a symbolic dimension is 1.
 */
export type Dim = number | string;
export type Shape = readonly Dim[];

export function formatShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

export function isConcrete(shape: Shape): shape is readonly number[] {
  return shape.every((d) => typeof d === 'number');
}

export function numel(shape: Shape): number {
  if (!isConcrete(shape)) throw new Error(`shape ${formatShape(shape)} is not concrete`);
  return shape.reduce((a, b) => a * b, 1);
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Normalises a possibly negative axis for a tensor of the given rank. */
export function normAxis(axis: number, rank: number, what: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank)
    throw new Error(`${what}: axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** numpy broadcasting of any number of shapes; throws a message naming the op and all shapes. */
export function broadcastShapes(op: string, shapes: readonly Shape[]): Dim[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const k = i - (rank - s.length);
      if (k < 0) continue;
      const e = s[k];
      if (e === 1) continue;
      if (d === 1) d = e;
      else if (d !== e)
        throw new Error(`${op}: cannot broadcast shapes ${shapes.map(formatShape).join(' and ')} (dim ${i})`);
    }
    out.push(d);
  }
  return out;
}

/**
 * The axes of `outShape` along which an input of shape `inShape` was broadcast: the leading axes it
 * lacks, and the axes where it has 1 and the output does not. Gradients are summed over these.
 */
export function broadcastAxes(inShape: Shape, outShape: Shape): { leading: number[]; ones: number[] } {
  const lead = outShape.length - inShape.length;
  const leading = Array.from({ length: lead }, (_, i) => i);
  const ones: number[] = [];
  inShape.forEach((d, k) => {
    if (d === 1 && outShape[k + lead] !== 1) ones.push(k + lead);
  });
  return { leading, ones };
}

import type * as ort from 'onnxruntime-node';
import { type CacheSlot, assembleCache } from './kv-cache';
import type { FinishReason } from './processors';
import type { DecoderSignature } from './signature';

export interface BatchRow {
  finish: FinishReason | null;
  slot: CacheSlot;
}

/** Rows decoded together: `past` is `[rows, kvHeads, width, headDim]`, each row right-aligned. */
export interface Batch<R extends BatchRow> {
  rows: R[];
  past: readonly ort.Tensor[];
  width: number;
}

/**
 * The batches for the next decode step. A batch whose rows all go on and gain no one keeps its
 * tensors: the last step's present is the next step's past, with no copy. Finished rows stay in
 * their batch (decoded and ignored) until a quarter of it has finished or rows join it, because
 * compacting copies every live row's cache, which costs about as much as a step.
 *
 * mixLengths false: rows join only a batch of their own cache length, so no row is ever padded.
 * mixLengths true: one batch, rows left-padded to the longest.
 */
export function arrangeBatches<R extends BatchRow>(
  sig: DecoderSignature,
  batches: readonly Batch<R>[],
  joining: readonly R[],
  mixLengths: boolean,
): Batch<R>[] {
  const groups: { rows: R[]; kept: Batch<R> | null }[] = [];
  for (const b of batches) {
    const live = b.rows.filter((r) => !r.finish);
    if (live.length === 0) continue;
    const dead = b.rows.length - live.length;
    const compact = dead > 0 && (joining.length > 0 || dead * 4 > b.rows.length);
    groups.push(compact ? { rows: live, kept: null } : { rows: b.rows, kept: b });
  }
  if (joining.length > 0) {
    if (mixLengths) {
      const rows = groups.flatMap((g) => g.rows.filter((r) => !r.finish));
      groups.splice(0, groups.length, { rows: [...rows, ...joining], kept: null });
    } else
      for (const row of joining) {
        const group = groups.find((g) => g.rows[0].slot.length === row.slot.length);
        if (group) {
          group.rows = [...group.rows.filter((r) => !r.finish), row];
          group.kept = null;
        } else groups.push({ rows: [row], kept: null });
      }
  }
  return groups.map((g) => g.kept ?? buildBatch(sig, g.rows));
}

/** A batch of `rows` whose caches are copied out of wherever they are now. */
function buildBatch<R extends BatchRow>(sig: DecoderSignature, rows: R[]): Batch<R> {
  const width = Math.max(...rows.map((r) => r.slot.length));
  const past = assembleCache(
    sig,
    rows.map((r) => r.slot),
    width,
  );
  rows.forEach((r, i) => (r.slot = { tensors: past, row: i, width, length: r.slot.length }));
  return { rows, past, width };
}

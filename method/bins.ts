/**
 * Equal-width bins over [0, 1] for confidences (vote shares), shared by the filter's histogram and
 * the calibration table so both put a question in the same bin.
 */

export interface BinEdges {
  lo: number;
  hi: number;
}

/** Bin i covers [i/n, (i+1)/n); the last bin also holds 1. */
export function binEdges(bins: number): BinEdges[] {
  checkBins(bins);
  return Array.from({ length: bins }, (_, i) => ({ lo: i / bins, hi: (i + 1) / bins }));
}

/**
 * The bin of a confidence. Vote shares such as 3/10 are not exact in binary (3/10 * 10 may land a
 * hair under 3), so a value within 1e-9 below an edge counts as on it: edges belong to the bin above.
 */
export function confidenceBin(confidence: number, bins: number): number {
  checkBins(bins);
  if (!(confidence >= 0 && confidence <= 1))
    throw new RangeError(`confidence ${confidence} is not in [0, 1]`);
  return Math.min(bins - 1, Math.floor(confidence * bins + 1e-9));
}

function checkBins(bins: number): void {
  if (!Number.isInteger(bins) || bins < 1)
    throw new RangeError(`bins must be a positive integer, got ${bins}`);
}

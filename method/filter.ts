import { z } from 'zod';
import { binEdges, confidenceBin } from './bins';
import { splitRationale } from './formats';
import type { AnsweredPath, VoteResult } from './vote';

/**
 * The paper's step 3: keep the "high-confidence rationale-augmented answers", the paths whose
 * answer equals the majority answer, with the optional limits a campaign may add.
 */

export const FilterOptions = z.strictObject({
  /** Questions whose confidence (vote share) is below this keep nothing. Default 0, the paper's. */
  minConfidence: z.number().min(0).max(1).default(0),
  /** Keep one path per rationale, compared after collapsing whitespace. Default off, as in the paper. */
  dedupe: z.boolean().default(false),
  /** At most this many kept paths per question. Default: no cap. */
  maxPerQuestion: z.number().int().min(1).optional(),
  /** Drop paths whose text is longer than this many characters. Default: no limit. */
  maxChars: z.number().int().min(1).optional(),
  /** Bins of the confidence histogram over [0, 1]. */
  histogramBins: z.number().int().min(1).default(10),
});
export type FilterOptions = z.input<typeof FilterOptions>;

export type DropReason = 'disagree' | 'abstain' | 'lowConfidence' | 'duplicate' | 'overCap' | 'tooLong';

export interface ConfidenceHistogramBin {
  lo: number;
  hi: number;
  questions: number;
  keptPaths: number;
}

export interface FilterStats {
  questions: number;
  /** Questions with at least one kept path. */
  questionsKept: number;
  paths: number;
  kept: number;
  /** Every dropped path counted once, under the first reason that applies (in the order checked). */
  droppedBy: Record<DropReason, number>;
  confidenceHistogram: ConfidenceHistogramBin[];
}

export interface FilterResult {
  /** In path-index order. */
  kept: AnsweredPath[];
  /** Every path not kept and the first check that dropped it, in path-index order. */
  dropped: { pathIndex: number; reason: DropReason }[];
  stats: FilterStats;
}

export function emptyFilterStats(histogramBins = 10): FilterStats {
  return {
    questions: 0,
    questionsKept: 0,
    paths: 0,
    kept: 0,
    droppedBy: { disagree: 0, abstain: 0, lowConfidence: 0, duplicate: 0, overCap: 0, tooLong: 0 },
    confidenceHistogram: binEdges(histogramBins).map((e) => ({ ...e, questions: 0, keptPaths: 0 })),
  };
}

/**
 * One question's kept paths. Each path is checked, in path-index order, for: abstain (no answer),
 * disagree (not the majority answer), lowConfidence (the question's confidence < minConfidence),
 * tooLong (text over maxChars), duplicate (a rationale already kept), overCap (maxPerQuestion kept
 * already). Paths are exchangeable samples, so the cap keeps the lowest path indices: a uniform
 * subset that stays the same when m grows.
 */
export function keepConsistentPaths(
  paths: readonly AnsweredPath[],
  vote: VoteResult,
  options: FilterOptions = {},
): FilterResult {
  const opts = FilterOptions.parse(options);
  if (vote.m !== paths.length) {
    throw new Error(`keepConsistentPaths: the vote counted ${vote.m} paths but ${paths.length} were given`);
  }
  const stats = emptyFilterStats(opts.histogramBins);
  const lowConfidence = vote.confidence < opts.minConfidence;
  const seenRationales = new Set<string>();
  const kept: AnsweredPath[] = [];
  const dropped: FilterResult['dropped'] = [];
  const rationaleKey = (path: AnsweredPath) => splitRationale(path.text).rationale.replace(/\s+/g, ' ');
  const dropReason = (path: AnsweredPath): DropReason | null => {
    if (path.answer === null) return 'abstain';
    if (path.answer !== vote.answer) return 'disagree';
    if (lowConfidence) return 'lowConfidence';
    if (opts.maxChars !== undefined && path.text.length > opts.maxChars) return 'tooLong';
    if (opts.dedupe && seenRationales.has(rationaleKey(path))) return 'duplicate';
    if (opts.maxPerQuestion !== undefined && kept.length >= opts.maxPerQuestion) return 'overCap';
    return null;
  };
  for (const path of paths.slice().sort((a, b) => a.pathIndex - b.pathIndex)) {
    const reason = dropReason(path);
    if (reason !== null) {
      stats.droppedBy[reason]++;
      dropped.push({ pathIndex: path.pathIndex, reason });
      continue;
    }
    kept.push(path);
    if (opts.dedupe) seenRationales.add(rationaleKey(path));
  }

  stats.questions = 1;
  stats.questionsKept = kept.length > 0 ? 1 : 0;
  stats.paths = paths.length;
  stats.kept = kept.length;
  const bin = stats.confidenceHistogram[confidenceBin(vote.confidence, opts.histogramBins)];
  bin.questions = 1;
  bin.keptPaths = kept.length;
  return { kept, dropped, stats };
}

/** Sums the stats of many questions (or shards); both must use the same histogram bins. */
export function mergeFilterStats(a: FilterStats, b: FilterStats): FilterStats {
  if (a.confidenceHistogram.length !== b.confidenceHistogram.length) {
    throw new Error('mergeFilterStats: the histograms have different bins');
  }
  const droppedBy = { ...a.droppedBy };
  for (const reason of Object.keys(droppedBy) as DropReason[]) droppedBy[reason] += b.droppedBy[reason];
  return {
    questions: a.questions + b.questions,
    questionsKept: a.questionsKept + b.questionsKept,
    paths: a.paths + b.paths,
    kept: a.kept + b.kept,
    droppedBy,
    confidenceHistogram: a.confidenceHistogram.map((bin, i) => ({
      ...bin,
      questions: bin.questions + b.confidenceHistogram[i].questions,
      keptPaths: bin.keptPaths + b.confidenceHistogram[i].keptPaths,
    })),
  };
}

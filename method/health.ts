/**
 * Label-free health of a model's samples: signals computed from the sampled paths alone (their
 * answers, texts and lengths; never a label), read across rounds to notice the collapse every
 * intrinsic-reward method heads for — the majority share saturates, the answers stop varying,
 * rationales repeat, lengths drift — before an evaluation set would show it.
 */

/** One question's paths as the health signals see them. */
export interface HealthQuestion {
  questionId: string;
  /** Each path's normalised answer (null: it abstained), its text and its completion tokens. */
  paths: readonly { answer: string | null; text: string; tokens: number }[];
  /** The majority answer the vote chose (null when every path abstained). */
  majority: string | null;
  /** The majority answer's share of all m paths (the vote's confidence). */
  majorityShare: number;
}

export interface LabelFreeHealth {
  questions: number;
  paths: number;
  /** Questions by majority share in `bins` equal bins over [0, 1] (the last bin includes 1). */
  majorityShareHistogram: number[];
  meanMajorityShare: number;
  /**
   * Entropy in bits of the answers among a question's answering paths, averaged over the questions
   * with at least one answer (abstentions are the abstention rate's, not an answer of their own).
   */
  meanAnswerEntropy: number;
  /** Paths without an extractable answer / all paths. */
  abstentionRate: number;
  meanPathTokens: number;
  medianPathTokens: number;
  /**
   * Distinct rationales among a question's paths / its paths, averaged over questions. Texts are
   * compared with runs of whitespace collapsed, so only a different wording counts.
   */
  distinctRationaleFraction: number;
  /**
   * Share of the questions voted on in both rounds whose majority answer is the same as in the
   * previous round (null without a previous round, or no question in common).
   */
  agreementWithPrevious: number | null;
  questionsComparedWithPrevious: number;
}

/** Accumulates questions one at a time (a round's samples are streamed), then summarises. */
export class HealthTally {
  private questions = 0;
  private paths = 0;
  private abstentions = 0;
  private shareSum = 0;
  private entropySum = 0;
  private answeringQuestions = 0;
  private distinctSum = 0;
  private readonly histogram: number[];
  private readonly tokens: number[] = [];
  private readonly majorities = new Map<string, string | null>();

  constructor(private readonly bins = 10) {
    if (!Number.isInteger(bins) || bins < 1)
      throw new Error(`health: bins must be a positive integer, got ${bins}`);
    this.histogram = new Array<number>(bins).fill(0);
  }

  add(q: HealthQuestion): void {
    if (q.paths.length === 0) return;
    this.questions += 1;
    this.paths += q.paths.length;
    this.shareSum += q.majorityShare;
    this.histogram[Math.min(this.bins - 1, Math.floor(q.majorityShare * this.bins))] += 1;
    this.majorities.set(q.questionId, q.majority);

    const counts = new Map<string, number>();
    const texts = new Set<string>();
    let answered = 0;
    for (const p of q.paths) {
      this.tokens.push(p.tokens);
      texts.add(p.text.trim().replace(/\s+/g, ' '));
      if (p.answer === null) continue;
      answered += 1;
      counts.set(p.answer, (counts.get(p.answer) ?? 0) + 1);
    }
    this.abstentions += q.paths.length - answered;
    this.distinctSum += texts.size / q.paths.length;
    if (answered > 0) {
      this.answeringQuestions += 1;
      this.entropySum += entropyBits([...counts.values()], answered);
    }
  }

  /** The majority answer of every question added (the next round's `previous`). */
  majorityAnswers(): ReadonlyMap<string, string | null> {
    return this.majorities;
  }

  result(previous?: ReadonlyMap<string, string | null>): LabelFreeHealth {
    let compared = 0;
    let agreed = 0;
    if (previous) {
      for (const [id, answer] of this.majorities) {
        if (!previous.has(id)) continue;
        compared += 1;
        if (previous.get(id) === answer) agreed += 1;
      }
    }
    const n = this.questions;
    return {
      questions: n,
      paths: this.paths,
      majorityShareHistogram: [...this.histogram],
      meanMajorityShare: n > 0 ? this.shareSum / n : 0,
      meanAnswerEntropy: this.answeringQuestions > 0 ? this.entropySum / this.answeringQuestions : 0,
      abstentionRate: this.paths > 0 ? this.abstentions / this.paths : 0,
      meanPathTokens: this.paths > 0 ? this.tokens.reduce((s, t) => s + t, 0) / this.paths : 0,
      medianPathTokens: median(this.tokens),
      distinctRationaleFraction: n > 0 ? this.distinctSum / n : 0,
      agreementWithPrevious: compared > 0 ? agreed / compared : null,
      questionsComparedWithPrevious: compared,
    };
  }
}

/** Label-free health of a whole set of questions at once. */
export function labelFreeHealth(
  questions: Iterable<HealthQuestion>,
  previous?: ReadonlyMap<string, string | null>,
  bins = 10,
): LabelFreeHealth {
  const tally = new HealthTally(bins);
  for (const q of questions) tally.add(q);
  return tally.result(previous);
}

function entropyBits(counts: number[], total: number): number {
  let h = 0;
  for (const c of counts) {
    const p = c / total;
    h -= p * Math.log2(p);
  }
  // -0 (one answer) reads as 0.
  return h === 0 ? 0 : h;
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** gate.labelFree's thresholds (config/campaign.ts); each rule is off when its threshold is unset. */
export interface CollapseRule {
  minAnswerEntropy?: number;
  saturatedMajorityShare: number;
  maxMedianLengthFactor?: number;
  minDistinctRationales?: number;
}

/**
 * Why a model's samples read as collapsed, or null: the answers stopped varying while the vote
 * saturated, the median length drifted from the base model's by more than a factor, or the
 * rationales repeat. `base` is the base model's health on the same questions (length reference).
 */
export function collapseReason(
  h: LabelFreeHealth,
  base: LabelFreeHealth | null,
  rule: CollapseRule,
): string | null {
  if (h.questions === 0) return null;
  const reasons: string[] = [];
  if (
    rule.minAnswerEntropy !== undefined &&
    h.meanAnswerEntropy < rule.minAnswerEntropy &&
    h.meanMajorityShare >= rule.saturatedMajorityShare
  ) {
    reasons.push(
      `mean answer entropy ${h.meanAnswerEntropy.toFixed(3)} bits is below the floor ${rule.minAnswerEntropy} while the mean majority share ${h.meanMajorityShare.toFixed(3)} has saturated (>= ${rule.saturatedMajorityShare})`,
    );
  }
  if (rule.maxMedianLengthFactor !== undefined && base !== null && base.medianPathTokens > 0) {
    const factor = h.medianPathTokens / base.medianPathTokens;
    if (factor > rule.maxMedianLengthFactor || factor < 1 / rule.maxMedianLengthFactor) {
      reasons.push(
        `the median path length moved from ${base.medianPathTokens} to ${h.medianPathTokens} tokens (x${factor.toFixed(2)}), beyond the factor ${rule.maxMedianLengthFactor}`,
      );
    }
  }
  if (rule.minDistinctRationales !== undefined && h.distinctRationaleFraction < rule.minDistinctRationales) {
    reasons.push(
      `only ${(h.distinctRationaleFraction * 100).toFixed(1)}% of a question's paths are distinct rationales (floor ${(rule.minDistinctRationales * 100).toFixed(1)}%)`,
    );
  }
  return reasons.length > 0 ? `label-free collapse: ${reasons.join('; ')}` : null;
}

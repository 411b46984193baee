import { emptyFilterStats, keepConsistentPaths, mergeFilterStats } from '../../method/filter';
import type { FilterOptions } from '../../method/filter';
import type { SampledPath } from '../../method/types';
import { voteOnQuestion } from '../../method/vote';
import { numberTask, question } from './number-task';

const task = numberTask();
const q = question('q1', 'How many?');

/** Votes on the given texts (path index = position unless given) and filters them. */
function filter(texts: (string | [number, string])[], options: FilterOptions = {}) {
  const paths: SampledPath[] = texts.map((t, i) => {
    const [pathIndex, text] = typeof t === 'string' ? [i, t] : t;
    return { questionId: 'q1', pathIndex, text, sumLogprob: -1, finishReason: 'stop' };
  });
  const voted = voteOnQuestion(task, q, paths);
  return { ...keepConsistentPaths(voted.paths, voted.vote, options), vote: voted.vote };
}

const noDrops = { disagree: 0, abstain: 0, lowConfidence: 0, duplicate: 0, overCap: 0, tooLong: 0 };

describe('keepConsistentPaths', () => {
  it('keeps the paths that state the majority answer, in path-index order, and says why the rest went', () => {
    const r = filter([
      [4, 'D. The answer is 5.'],
      [0, 'A. The answer is 5.'],
      [2, 'B. The answer is 6.'],
      [1, 'No answer here.'],
      [3, 'C. The answer is 5.'],
    ]);
    expect(r.kept.map((p) => p.pathIndex)).toEqual([0, 3, 4]);
    expect(r.stats.kept).toBe(3);
    expect(r.stats.paths).toBe(5);
    expect(r.stats.questions).toBe(1);
    expect(r.stats.questionsKept).toBe(1);
    expect(r.stats.droppedBy).toEqual({ ...noDrops, disagree: 1, abstain: 1 });
    expect(r.dropped).toEqual([
      { pathIndex: 1, reason: 'abstain' },
      { pathIndex: 2, reason: 'disagree' },
    ]);
  });

  it('keeps nothing when every path abstains', () => {
    const r = filter(['Hmm.', 'Not sure.']);
    expect(r.kept).toEqual([]);
    expect(r.stats.droppedBy).toEqual({ ...noDrops, abstain: 2 });
    expect(r.stats.questionsKept).toBe(0);
  });

  it('minConfidence: a question below it keeps nothing; the bound is inclusive', () => {
    const texts = [
      'A. The answer is 5.',
      'B. The answer is 5.',
      'C. The answer is 6.',
      'D. The answer is 7.',
    ];
    const low = filter(texts, { minConfidence: 0.6 });
    expect(low.vote.confidence).toBe(0.5);
    expect(low.kept).toEqual([]);
    expect(low.stats.droppedBy).toEqual({ ...noDrops, disagree: 2, lowConfidence: 2 });
    expect(low.stats.questionsKept).toBe(0);
    expect(filter(texts, { minConfidence: 0.5 }).kept.map((p) => p.pathIndex)).toEqual([0, 1]);
  });

  it('dedupe: drops a rationale already kept, compared after collapsing whitespace', () => {
    const texts = [
      'He has 2 +  3 = 5.\nThe answer is 5.',
      ' He has 2 + 3\n= 5. The answer is 5,.', // same rationale, stated differently
      'Two plus three is 5. The answer is 5.',
    ];
    const on = filter(texts, { dedupe: true });
    expect(on.kept.map((p) => p.pathIndex)).toEqual([0, 2]);
    expect(on.stats.droppedBy).toEqual({ ...noDrops, duplicate: 1 });
    expect(filter(texts).kept).toHaveLength(3);
    expect(filter(texts, { dedupe: false }).kept).toHaveLength(3);
  });

  it('maxPerQuestion: keeps the lowest path indices', () => {
    const texts = [4, 1, 3, 0, 2].map((i): [number, string] => [i, `R${i}. The answer is 5.`]);
    const r = filter(texts, { maxPerQuestion: 2 });
    expect(r.kept.map((p) => p.pathIndex)).toEqual([0, 1]);
    expect(r.stats.droppedBy).toEqual({ ...noDrops, overCap: 3 });
  });

  it('maxChars: drops paths whose text is longer', () => {
    const short = 'A. The answer is 5.';
    const long = `${'x'.repeat(40)}. The answer is 5.`;
    const r = filter([long, short], { maxChars: short.length });
    expect(r.kept.map((p) => p.pathIndex)).toEqual([1]);
    expect(r.stats.droppedBy).toEqual({ ...noDrops, tooLong: 1 });
  });

  it('counts each path under the first reason, so a dropped path neither claims a rationale nor a place', () => {
    const rationale = 'Same reasoning.';
    const r = filter(
      [
        `${rationale} The answer is 5.${' '.repeat(50)}`,
        `${rationale} The answer is 5.`,
        'Other. The answer is 5.',
        'X. The answer is 9.',
      ],
      { dedupe: true, maxChars: 40, maxPerQuestion: 1 },
    );
    // Path 0 is too long, so path 1 (same rationale) is not a duplicate and takes the one place.
    expect(r.kept.map((p) => p.pathIndex)).toEqual([1]);
    expect(r.stats.droppedBy).toEqual({ ...noDrops, tooLong: 1, overCap: 1, disagree: 1 });
    const total = r.stats.kept + Object.values(r.stats.droppedBy).reduce((a, b) => a + b, 0);
    expect(total).toBe(r.stats.paths);
    // Only kept paths claim a rationale: the second 'B' is over the cap, not a duplicate of a dropped path.
    const capped = filter(['A. The answer is 5.', 'B. The answer is 5.', 'B. The answer is 5.'], {
      dedupe: true,
      maxPerQuestion: 1,
    });
    expect(capped.stats.droppedBy).toEqual({ ...noDrops, overCap: 2 });
  });

  it('puts the question in its confidence bin, with its kept paths', () => {
    const r = filter([
      'A. The answer is 5.',
      'B. The answer is 5.',
      'C. The answer is 5.',
      'D. The answer is 6.',
    ]);
    expect(r.stats.confidenceHistogram).toHaveLength(10);
    expect(r.stats.confidenceHistogram[7]).toEqual({ lo: 0.7, hi: 0.8, questions: 1, keptPaths: 3 });
    expect(r.stats.confidenceHistogram.filter((b) => b.questions > 0)).toHaveLength(1);
    const all = filter(['A. The answer is 5.'], { histogramBins: 4 });
    expect(all.stats.confidenceHistogram.map((b) => b.questions)).toEqual([0, 0, 0, 1]);
    expect(all.stats.confidenceHistogram[3]).toEqual({ lo: 0.75, hi: 1, questions: 1, keptPaths: 1 });
    const tenth = filter(['A. The answer is 5.', ...Array.from({ length: 9 }, () => 'none')]);
    expect(tenth.stats.confidenceHistogram[1].questions).toBe(1); // 0.1 sits on the edge: the bin above
  });

  it('merges stats over questions', () => {
    const a = filter(['A. The answer is 5.', 'B. The answer is 6.', 'C. The answer is 5.']).stats;
    const b = filter(['none']).stats;
    const m = [a, b].reduce(mergeFilterStats, emptyFilterStats());
    expect(m.questions).toBe(2);
    expect(m.questionsKept).toBe(1);
    expect(m.paths).toBe(4);
    expect(m.kept).toBe(2);
    expect(m.droppedBy).toEqual({ ...noDrops, disagree: 1, abstain: 1 });
    expect(m.confidenceHistogram[0].questions).toBe(1);
    expect(m.confidenceHistogram[6]).toEqual({ lo: 0.6, hi: 0.7, questions: 1, keptPaths: 2 });
    expect(() => mergeFilterStats(emptyFilterStats(10), emptyFilterStats(5))).toThrow(/different bins/);
  });

  it('rejects bad options and a vote over other paths', () => {
    expect(() => filter(['A. The answer is 5.'], { minConfidence: 1.5 })).toThrow();
    expect(() => filter(['A. The answer is 5.'], { maxPerQuestion: 0 })).toThrow();
    expect(() => filter(['A. The answer is 5.'], { maxChars: 2.5 })).toThrow();
    expect(() => filter(['A. The answer is 5.'], { minConfidnce: 0.5 } as FilterOptions)).toThrow();
    const voted = voteOnQuestion(task, q, [
      { questionId: 'q1', pathIndex: 0, text: 'The answer is 1.', sumLogprob: 0, finishReason: 'stop' },
    ]);
    expect(() => keepConsistentPaths([], voted.vote)).toThrow(/counted 1 paths but 0/);
  });
});

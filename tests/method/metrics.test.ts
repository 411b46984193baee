import {
  accuracyVsK,
  calibrationTable,
  greedyAccuracy,
  meanF1,
  perFormatAccuracy,
  scoreVotes,
  selfConsistencyAccuracy,
} from '../../method/metrics';
import type { SampledQuestion } from '../../method/metrics';
import * as path from 'node:path';
import { dropF1 } from '../../method/answers/drop';
import { keepConsistentPaths } from '../../method/filter';
import { mixedFormats } from '../../method/mixed-formats';
import { getTask } from '../../method/tasks';
import { voteOnQuestion } from '../../method/vote';
import type { VotingPath } from '../../method/vote';
import { numberTask, question } from './number-task';

const task = numberTask();

/** A question whose gold is `gold` and whose paths state `answers` (with the given log-probabilities). */
function sampled(id: string, gold: string, answers: (string | null)[], logprobs?: number[]): SampledQuestion {
  const paths: VotingPath[] = answers.map((answer, pathIndex) => ({
    pathIndex,
    answer,
    sumLogprob: logprobs?.[pathIndex] ?? -1,
  }));
  return { question: question(id, `Question ${id}?`, [gold]), paths };
}

describe('greedyAccuracy and perFormatAccuracy', () => {
  const items = [
    { question: question('a', 'A?', ['5']), text: 'So 5. The answer is 5.' },
    { question: question('b', 'B?', ['1234']), text: 'The answer is 1,234.' },
    { question: question('c', 'C?', ['8']), text: 'The answer is 7.' },
    { question: question('d', 'D?', ['3']), text: 'I cannot tell.' },
  ];

  it('scores one completion per question; an abstention is wrong', () => {
    expect(greedyAccuracy(task, items)).toEqual({ correct: 2, total: 4, accuracy: 0.5, abstained: 1 });
  });

  it('refuses unlabeled questions and an empty set', () => {
    expect(() => greedyAccuracy(task, [{ question: question('u', 'U?'), text: 'The answer is 1.' }])).toThrow(
      /question u has no gold/,
    );
    expect(() => greedyAccuracy(task, [])).toThrow(/no questions/);
  });

  it('scores each format separately', () => {
    const byFormat = perFormatAccuracy(task, [
      { ...items[0], format: 'zero-shot-cot' },
      { ...items[2], format: 'zero-shot-cot' },
      { ...items[1], format: 'few-shot-direct' },
    ]);
    expect(byFormat).toEqual({
      'few-shot-direct': { correct: 1, total: 1, accuracy: 1 },
      'zero-shot-cot': { correct: 1, total: 2, accuracy: 0.5 },
    });
  });
});

describe('selfConsistencyAccuracy and accuracyVsK', () => {
  it('with k >= m votes once over all paths (exact)', () => {
    const items = [
      sampled('a', '5', ['5', '5', '3']),
      sampled('b', '7', ['7', '8', '8']),
      sampled('c', '1', [null, null]),
    ];
    const r = selfConsistencyAccuracy(task, items, 3, { seed: 1 });
    expect(r).toEqual({ k: 3, accuracy: 1 / 3, expectedCorrect: 1, total: 3, draws: 10 });
    expect(selfConsistencyAccuracy(task, items, 40, { seed: 1 }).accuracy).toBe(1 / 3);
  });

  it('with k < m averages draws of k paths without replacement', () => {
    // Three different answers, equal scores: a pair's tie goes to its lowest path index, so the
    // vote is right exactly when path 0 is drawn: 2/3 without replacement (5/9 with).
    const distinct = [sampled('a', '1', ['1', '2', '3'])];
    const r = selfConsistencyAccuracy(task, distinct, 2, { seed: 3, draws: 3000 });
    expect(Math.abs(r.accuracy - 2 / 3)).toBeLessThan(0.03);
    const hits = r.accuracy * 3000; // a whole number of right draws
    expect(Math.abs(hits - Math.round(hits))).toBeLessThan(1e-6);
    // ['5','5','3'] with the '3' path more probable: only the pair {0, 1} votes '5': 1/3.
    const tieToWrong = [sampled('b', '5', ['5', '5', '3'], [-3, -3, -1])];
    expect(
      Math.abs(selfConsistencyAccuracy(task, tieToWrong, 2, { seed: 3, draws: 3000 }).accuracy - 1 / 3),
    ).toBeLessThan(0.03);
    // A question whose paths all agree is right at every k.
    expect(
      selfConsistencyAccuracy(task, [sampled('c', '4', ['4', '4', '4', '4'])], 1, { seed: 0 }).accuracy,
    ).toBe(1);
  });

  it('is reproducible, and a question’s draws do not depend on the other questions', () => {
    const a = sampled('a', '1', ['1', '2', '3', '1', null]);
    const b = sampled('b', '2', ['2', '2', '9', '9', '9']);
    const both = selfConsistencyAccuracy(task, [a, b], 2, { seed: 'run-1' });
    expect(selfConsistencyAccuracy(task, [a, b], 2, { seed: 'run-1' })).toEqual(both);
    const onlyA = selfConsistencyAccuracy(task, [a], 2, { seed: 'run-1' });
    const onlyB = selfConsistencyAccuracy(task, [b], 2, { seed: 'run-1' });
    expect(both.expectedCorrect).toBeCloseTo(onlyA.expectedCorrect + onlyB.expectedCorrect, 12);
  });

  it('uses the vote weighting asked for', () => {
    const q = sampled('a', '9', ['7', '7', '7', '9', '9'], [-10, -10, -10, -1, -1]);
    expect(selfConsistencyAccuracy(task, [q], 5, { seed: 0 }).accuracy).toBe(0);
    expect(selfConsistencyAccuracy(task, [q], 5, { seed: 0, weighting: 'logprob' }).accuracy).toBe(1);
  });

  it('draws the curve at 1, 2, 4, ... and m by default', () => {
    const six = [sampled('a', '1', ['1', '2', '1', '3', '1', '1'])];
    expect(accuracyVsK(task, six, { seed: 0 }).map((r) => r.k)).toEqual([1, 2, 4, 6]);
    const eight = [sampled('a', '1', ['1', '2', '1', '3', '1', '1', '4', '1'])];
    const curve = accuracyVsK(task, eight, { seed: 0 });
    expect(curve.map((r) => r.k)).toEqual([1, 2, 4, 8]);
    expect(curve[3].accuracy).toBe(1);
    expect(accuracyVsK(task, eight, { seed: 0, ks: [3, 5] }).map((r) => r.k)).toEqual([3, 5]);
  });

  it('rejects bad k and draws', () => {
    const items = [sampled('a', '1', ['1'])];
    expect(() => selfConsistencyAccuracy(task, items, 0, { seed: 0 })).toThrow(/k must be/);
    expect(() => selfConsistencyAccuracy(task, items, 1, { seed: 0, draws: 0 })).toThrow(/draws must be/);
    expect(() => selfConsistencyAccuracy(task, [], 1, { seed: 0 })).toThrow(/no questions/);
  });
});

describe('calibrationTable and scoreVotes', () => {
  it('bins confidences and compares accuracy with mean confidence (hand-computed)', () => {
    const t = calibrationTable([
      { confidence: 0.95, correct: true },
      { confidence: 1.0, correct: true },
      { confidence: 0.92, correct: false },
      { confidence: 0.3, correct: true },
      { confidence: 0.35, correct: false },
      { confidence: 0.3, correct: false },
    ]);
    expect(t.count).toBe(6);
    expect(t.bins).toHaveLength(10);
    expect(t.bins[9]).toEqual({
      lo: 0.9,
      hi: 1,
      count: 3,
      correct: 2,
      accuracy: 2 / 3,
      meanConfidence: expect.closeTo(2.87 / 3, 12),
    });
    expect(t.bins[3]).toMatchObject({ lo: 0.3, hi: 0.4, count: 3, correct: 1, accuracy: 1 / 3 });
    expect(t.bins[3].meanConfidence).toBeCloseTo(0.95 / 3, 12);
    expect(t.bins[0]).toEqual({ lo: 0, hi: 0.1, count: 0, correct: 0, accuracy: null, meanConfidence: null });
    // ECE = 3/6 * |2/3 - 2.87/3| + 3/6 * |1/3 - 0.95/3| = 0.5 * 0.29 + 0.5 * 0.05 / 3
    expect(t.ece).toBeCloseTo(0.5 * 0.29 + (0.5 * 0.05) / 3, 12);
  });

  it('takes the number of bins and places vote shares on edges in the bin above', () => {
    const t = calibrationTable(
      [3 / 10, 7 / 10, 1 / 4, 0].map((confidence) => ({ confidence, correct: true })),
      { bins: 4 },
    );
    expect(t.bins.map((b) => b.count)).toEqual([1, 2, 1, 0]);
    const ten = calibrationTable(
      [3 / 10, 7 / 10, 6 / 10].map((confidence) => ({ confidence, correct: false })),
    );
    expect(ten.bins.map((b) => b.count)).toEqual([0, 0, 0, 1, 0, 0, 1, 1, 0, 0]);
    expect(() => calibrationTable([{ confidence: 1.2, correct: true }])).toThrow(/not in \[0, 1\]/);
    expect(() => calibrationTable([], { bins: 0 })).toThrow(/bins/);
  });

  it('scores voted questions for the table', () => {
    const path = (pathIndex: number, text: string) => ({
      questionId: 'a',
      pathIndex,
      text,
      sumLogprob: -1,
      finishReason: 'stop' as const,
    });
    const qa = question('a', 'A?', ['1,234']);
    const voted = voteOnQuestion(task, qa, [
      path(0, 'The answer is 1234.'),
      path(1, 'The answer is 9.'),
      path(2, 'The answer is 1234.'),
    ]);
    const qb = question('b', 'B?', ['2']);
    const none = voteOnQuestion(task, qb, []);
    expect(scoreVotes(task, [voted, none])).toEqual([
      { questionId: 'a', answer: '1234', confidence: 2 / 3, correct: true },
      { questionId: 'b', answer: null, confidence: 0, correct: false },
    ]);
  });
});

describe('meanF1', () => {
  // A bag-of-tokens F1, best over the gold alternatives, standing in for the task's own.
  const tokenF1 = (prediction: string | null, golds: readonly string[]): number => {
    if (prediction === null) return 0;
    const p = prediction.split(' ');
    return Math.max(
      0,
      ...golds.map((gold) => {
        const g = gold.split(' ');
        const common = p.filter((t) => g.includes(t)).length;
        if (common === 0) return 0;
        const precision = common / p.length;
        const recall = common / g.length;
        return (2 * precision * recall) / (precision + recall);
      }),
    );
  };

  it('averages per-question F1 against the gold alternatives; an abstention scores 0', () => {
    const r = meanF1(
      [
        { prediction: 'the red car', gold: ['blue', 'red car'] }, // 0.8
        { prediction: null, gold: ['x'] },
        { prediction: 'blue', gold: ['blue'] },
      ],
      tokenF1,
    );
    expect(r.total).toBe(3);
    expect(r.meanF1).toBeCloseTo(1.8 / 3, 12);
    expect(() => meanF1([], tokenF1)).toThrow(/no questions/);
  });

  it("takes the DROP task's own F1", () => {
    // DROP normalises articles and punctuation away: "the Bears" matches "Bears"; 2 of 3 tokens
    // against a 2-token gold gives F1 0.8.
    const r = meanF1(
      [
        { prediction: 'the Bears.', gold: ['Bears', 'Chicago Bears'] },
        { prediction: 'Chicago Bears fans', gold: ['Chicago Bears'] },
        { prediction: null, gold: ['1999'] },
      ],
      dropF1,
    );
    expect(r.meanF1).toBeCloseTo((1 + 0.8 + 0) / 3, 12);
  });
});

describe('end to end with the real gsm8k task', () => {
  it('votes, filters, formats and scores gold rationales from test.jsonl', async () => {
    const task = getTask('gsm8k');
    const file = path.resolve(__dirname, '../../../shared/data/gsm8k/test.jsonl');
    const { questions, bad } = await task.loadQuestions(file, { limit: 5 });
    expect(bad).toEqual([]);
    expect(questions).toHaveLength(5);
    // Per question: the gold rationale twice (one with a "$" and a thousands comma), a wrong answer,
    // an abstention.
    const voted = questions.map((q) => {
      const gold = q.gold![0];
      const withDollar = `$${Number(gold.replace(/,/g, '')).toLocaleString('en-US')}`;
      const texts = [
        `${q.rationale} The answer is ${gold}.`,
        `${q.rationale} The answer is ${withDollar}.`,
        `${q.rationale} The answer is ${Number(gold.replace(/,/g, '')) + 1}.`,
        'I am not sure.',
      ];
      return voteOnQuestion(
        task,
        q,
        texts.map((text, pathIndex) => ({
          questionId: q.id,
          pathIndex,
          text,
          sumLogprob: -pathIndex,
          finishReason: 'stop',
        })),
      );
    });
    for (const v of voted) {
      expect(v.vote.votes).toBe(2);
      expect(v.vote.confidence).toBe(0.5);
    }
    expect(scoreVotes(task, voted).every((r) => r.correct)).toBe(true);
    const kept = voted.flatMap((v) => keepConsistentPaths(v.paths, v.vote, { minConfidence: 0.5 }).kept);
    expect(kept.map((p) => p.pathIndex)).toEqual(questions.flatMap(() => [0, 1]));
    const examples = mixedFormats(kept, ['zero-shot-cot', 'zero-shot-direct'], { task, questions, seed: 0 });
    expect(examples).toHaveLength(20);
    const first = questions[0]; // Janet's ducks: 18 dollars
    expect(examples[0]).toEqual({
      prompt: `Q: ${first.text}\nA: Let's think step by step.`,
      completion: ` ${first.rationale} The answer is 18.`,
      format: 'zero-shot-cot',
      questionId: first.id,
      pathId: `${first.id}#0`,
    });
    expect(examples[1].completion).toBe(' The answer is 18.');
    // Greedy accuracy of each question's first, then third, path.
    expect(
      greedyAccuracy(
        task,
        voted.map((v) => ({ question: v.question, text: v.paths[0].text })),
      ).accuracy,
    ).toBe(1);
    expect(
      greedyAccuracy(
        task,
        voted.map((v) => ({ question: v.question, text: v.paths[2].text })),
      ).accuracy,
    ).toBe(0);
    const sc = selfConsistencyAccuracy(task, voted, 4, { seed: 0 });
    expect(sc.accuracy).toBe(1);
  });
});

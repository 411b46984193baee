import fc from 'fast-check';
import { answerPaths, majorityVote, voteOnQuestion } from '../../method/vote';
import type { VotingPath } from '../../method/vote';
import type { SampledPath } from '../../method/types';
import { numberTask, question } from './number-task';

const vp = (pathIndex: number, answer: string | null, sumLogprob = -1): VotingPath => ({
  pathIndex,
  answer,
  sumLogprob,
});

describe('majorityVote', () => {
  it('takes the most frequent answer; abstentions count in m', () => {
    const v = majorityVote([vp(0, '18'), vp(1, '18'), vp(2, '20'), vp(3, null)]);
    expect(v.answer).toBe('18');
    expect(v.votes).toBe(2);
    expect(v.m).toBe(4);
    expect(v.abstentions).toBe(1);
    expect(v.confidence).toBe(0.5);
    expect(v.tally.map((t) => [t.answer, t.votes, t.firstPathIndex])).toEqual([
      ['18', 2, 0],
      ['20', 1, 2],
    ]);
    expect(v.tally[0].sumLogprob).toBe(-2);
  });

  it('returns a null answer with confidence 0 when every path abstains, and for no paths', () => {
    const v = majorityVote([vp(0, null), vp(1, null)]);
    expect(v).toEqual({ answer: null, votes: 0, m: 2, confidence: 0, abstentions: 2, tally: [] });
    expect(majorityVote([])).toEqual({
      answer: null,
      votes: 0,
      m: 0,
      confidence: 0,
      abstentions: 0,
      tally: [],
    });
  });

  it('breaks a tie in votes by the higher sum of log-probabilities over the tied answer paths', () => {
    // 'a' holds the single most probable path, but 'b' has the higher sum over its paths.
    const v = majorityVote([vp(0, 'a', -0.1), vp(1, 'b', -1), vp(2, 'a', -5), vp(3, 'b', -1)]);
    expect(v.answer).toBe('b');
    expect(v.votes).toBe(2);
    expect(v.confidence).toBe(0.5);
    expect(v.tally.map((t) => t.answer)).toEqual(['b', 'a']);
  });

  it('breaks a tie in votes and log-probability by the first seen answer (lowest path index)', () => {
    // Input order puts 'b' first; path index, not input order, decides.
    const v = majorityVote([vp(5, 'b', -2), vp(1, 'a', -2), vp(3, 'c', -7)]);
    expect(v.answer).toBe('a');
    expect(v.tally.map((t) => t.answer)).toEqual(['a', 'b', 'c']);
  });

  it('weights each path by exp(sumLogprob) under logprob weighting; confidence stays votes / m', () => {
    const paths = [vp(0, '7', -10), vp(1, '7', -10), vp(2, '7', -10), vp(3, '9', -1), vp(4, '9', -1)];
    expect(majorityVote(paths).answer).toBe('7');
    const w = majorityVote(paths, { weighting: 'logprob' });
    expect(w.answer).toBe('9');
    expect(w.votes).toBe(2);
    expect(w.confidence).toBeCloseTo(2 / 5, 12);
    expect(w.tally[0].weight).toBeCloseTo(2, 12); // exp(-1 - (-1)) * 2
    expect(w.tally[1].weight).toBeCloseTo(3 * Math.exp(-9), 12);
  });

  it('does not underflow with very negative log-probabilities', () => {
    // exp(-1000) is 0 in float64: the weights are taken relative to the best path.
    const paths = [
      vp(0, 'x', -1000),
      vp(1, 'x', -1000),
      vp(2, 'y', -1001),
      vp(3, 'y', -1001),
      vp(4, 'y', -1001),
    ];
    expect(majorityVote(paths).answer).toBe('y');
    const w = majorityVote(paths, { weighting: 'logprob' });
    expect(w.answer).toBe('x'); // 2 > 3 / e
    expect(w.tally[0].weight).toBeCloseTo(2, 12);
    expect(w.tally[1].weight).toBeCloseTo(3 * Math.exp(-1), 12);
  });

  it('ignores abstaining paths in the weights but counts them in m', () => {
    const w = majorityVote([vp(0, null, 0), vp(1, '3', -2), vp(2, '4', -3)], { weighting: 'logprob' });
    expect(w.answer).toBe('3');
    expect(w.m).toBe(3);
    expect(w.confidence).toBeCloseTo(1 / 3, 12);
  });

  it('rejects the same path twice and NaN scores', () => {
    expect(() => majorityVote([vp(0, 'a'), vp(0, 'a')])).toThrow(/path index 0 appears twice/);
    expect(() => majorityVote([vp(0, 'a', Number.NaN)])).toThrow(/NaN/);
    expect(() => majorityVote([vp(0.5, 'a')])).toThrow(/not an integer/);
  });

  const pathsArb = fc
    .uniqueArray(
      fc.record({
        pathIndex: fc.nat({ max: 64 }),
        answer: fc.constantFrom<string | null>('1', '2', '3', null),
        // A few repeated values make ties in votes and in log-probability sums common.
        sumLogprob: fc.oneof(fc.constantFrom(-1, -2, -0.5), fc.double({ min: -50, max: 0, noNaN: true })),
      }),
      { selector: (p) => p.pathIndex, maxLength: 32 },
    )
    .chain((paths) =>
      fc.tuple(
        fc.constant(paths),
        fc.shuffledSubarray(paths, { minLength: paths.length, maxLength: paths.length }),
      ),
    );

  it('is independent of the order of the paths (property)', () => {
    fc.assert(
      fc.property(
        pathsArb,
        fc.constantFrom<'count' | 'logprob'>('count', 'logprob'),
        ([paths, permuted], weighting) => {
          const a = majorityVote(paths, { weighting });
          const b = majorityVote(permuted, { weighting });
          expect(b.answer).toBe(a.answer);
          expect(b.votes).toBe(a.votes);
          expect(b.confidence).toBe(a.confidence);
          expect(b.tally).toEqual(a.tally);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('gives the winner the most votes and a confidence equal to its share (property)', () => {
    fc.assert(
      fc.property(pathsArb, ([paths]) => {
        const v = majorityVote(paths);
        const counts = new Map<string, number>();
        for (const p of paths) if (p.answer !== null) counts.set(p.answer, (counts.get(p.answer) ?? 0) + 1);
        const most = Math.max(0, ...counts.values());
        expect(v.votes).toBe(most);
        expect(v.answer === null ? 0 : counts.get(v.answer)).toBe(most);
        expect(v.confidence).toBe(paths.length === 0 ? 0 : most / paths.length);
        expect(v.abstentions).toBe(paths.filter((p) => p.answer === null).length);
      }),
      { numRuns: 300 },
    );
  });
});

describe('answerPaths and voteOnQuestion', () => {
  const q = question('q1', 'How many?');
  const path = (pathIndex: number, text: string, sumLogprob = -1): SampledPath => ({
    questionId: 'q1',
    pathIndex,
    text,
    sumLogprob,
    finishReason: 'stop',
  });

  it('extracts from each path text only and votes on normalised answers', () => {
    const task = numberTask();
    const paths = [
      path(0, '2 + 2 = 1,234. The answer is 1,234.'),
      path(1, 'So 1234. The answer is 1234.'),
      path(2, 'Hmm. The answer is 99.'),
      path(3, 'I do not know.'),
      path(4, 'The answer is .'),
    ];
    const voted = voteOnQuestion(task, q, paths);
    expect(task.extracted).toEqual(paths.map((p) => p.text));
    expect(voted.paths.map((p) => [p.stated, p.answer])).toEqual([
      ['1,234', '1234'],
      ['1234', '1234'],
      ['99', '99'],
      [null, null],
      [null, null],
    ]);
    expect(voted.vote.answer).toBe('1234');
    expect(voted.vote.votes).toBe(2);
    expect(voted.vote.abstentions).toBe(2);
    expect(voted.vote.confidence).toBe(0.4);
  });

  it('counts an answer that normalises to nothing as an abstention', () => {
    const task = numberTask();
    // extraction gives '.', which normalises to ''.
    const [p] = answerPaths(task, q, [path(0, 'The answer is ..')]);
    expect(p.stated).toBeNull();
    expect(p.answer).toBeNull();
  });

  it("refuses another question's path", () => {
    expect(() => answerPaths(numberTask(), q, [{ ...path(0, 'x'), questionId: 'q2' }])).toThrow(
      /q2#0 is not of question q1/,
    );
  });
});

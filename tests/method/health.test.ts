import { collapseReason, HealthTally, labelFreeHealth, type HealthQuestion } from '../../method/health';

const path = (answer: string | null, text: string, tokens: number) => ({ answer, text, tokens });

// q1: 4 paths, answers 5,5,5,7 (majority 5, share 3/4); two paths say the same thing in other spacing.
const q1: HealthQuestion = {
  questionId: 'q1',
  majority: '5',
  majorityShare: 0.75,
  paths: [
    path('5', 'two and three is 5', 10),
    path('5', 'two  and three\nis 5', 12),
    path('5', '2+3=5', 4),
    path('7', 'it is 7', 6),
  ],
};
// q2: 4 paths, two abstain, answers 1,2 (majority 1 by tie-break, share 1/4).
const q2: HealthQuestion = {
  questionId: 'q2',
  majority: '1',
  majorityShare: 0.25,
  paths: [path('1', 'one', 2), path('2', 'two', 2), path(null, '???', 20), path(null, '???', 20)],
};
// q3: every path abstains.
const q3: HealthQuestion = {
  questionId: 'q3',
  majority: null,
  majorityShare: 0,
  paths: [path(null, 'a', 1), path(null, 'b', 3)],
};

describe('label-free health', () => {
  const h = labelFreeHealth([q1, q2, q3]);

  test('counts, abstentions and the majority-share histogram', () => {
    expect(h.questions).toBe(3);
    expect(h.paths).toBe(10);
    expect(h.abstentionRate).toBeCloseTo(4 / 10, 12);
    // shares 0.75 -> bin 7, 0.25 -> bin 2, 0 -> bin 0
    expect(h.majorityShareHistogram).toEqual([1, 0, 1, 0, 0, 0, 0, 1, 0, 0]);
    expect(h.meanMajorityShare).toBeCloseTo((0.75 + 0.25 + 0) / 3, 12);
  });

  test('answer entropy in bits over the answering paths, averaged over questions that answered', () => {
    const h1 = -(0.75 * Math.log2(0.75) + 0.25 * Math.log2(0.25)); // q1: 5,5,5,7
    const h2 = 1; // q2: 1,2 (the abstentions are not an answer)
    expect(h.meanAnswerEntropy).toBeCloseTo((h1 + h2) / 2, 12);
    expect(labelFreeHealth([{ ...q1, paths: q1.paths.slice(0, 3) }]).meanAnswerEntropy).toBe(0);
  });

  test('lengths and distinct rationales (whitespace does not make a rationale new)', () => {
    expect(h.meanPathTokens).toBeCloseTo((10 + 12 + 4 + 6 + 2 + 2 + 20 + 20 + 1 + 3) / 10, 12);
    // sorted: 1 2 2 3 4 6 10 12 20 20 -> (4 + 6) / 2
    expect(h.medianPathTokens).toBe(5);
    expect(h.distinctRationaleFraction).toBeCloseTo((3 / 4 + 3 / 4 + 2 / 2) / 3, 12);
  });

  test('agreement with the previous round counts only the questions in both', () => {
    expect(h.agreementWithPrevious).toBeNull();
    const previous = new Map<string, string | null>([
      ['q1', '5'],
      ['q2', '2'],
      ['q3', null],
      ['q9', '1'],
    ]);
    const withPrevious = labelFreeHealth([q1, q2, q3], previous);
    expect(withPrevious.questionsComparedWithPrevious).toBe(3);
    expect(withPrevious.agreementWithPrevious).toBeCloseTo(2 / 3, 12);
  });

  test('streamed one question at a time it is the same, and hands on its majority answers', () => {
    const tally = new HealthTally();
    for (const q of [q1, q2, q3]) tally.add(q);
    expect(tally.result()).toEqual(h);
    expect([...tally.majorityAnswers()]).toEqual([
      ['q1', '5'],
      ['q2', '1'],
      ['q3', null],
    ]);
  });

  test('a collapsed model reads as collapsed', () => {
    const same = (id: string): HealthQuestion => ({
      questionId: id,
      majority: '4',
      majorityShare: 1,
      paths: Array.from({ length: 8 }, () => path('4', 'The answer is 4.', 5)),
    });
    const c = labelFreeHealth([same('a'), same('b')]);
    expect(c.meanAnswerEntropy).toBe(0);
    expect(c.meanMajorityShare).toBe(1);
    expect(c.majorityShareHistogram[9]).toBe(2);
    expect(c.distinctRationaleFraction).toBeCloseTo(1 / 8, 12);
  });

  test('an empty round has zeros, not NaN', () => {
    const e = labelFreeHealth([]);
    expect(e).toMatchObject({ questions: 0, paths: 0, meanAnswerEntropy: 0, medianPathTokens: 0 });
    expect(Object.values(e).some((v) => typeof v === 'number' && Number.isNaN(v))).toBe(false);
  });
});

describe('the collapse rule', () => {
  const healthy = labelFreeHealth([q1, q2]);
  const collapsed = labelFreeHealth(
    ['a', 'b'].map((id) => ({
      questionId: id,
      majority: '4',
      majorityShare: 1,
      paths: Array.from({ length: 4 }, () => path('4', 'The answer is 4.', 40)),
    })),
  );
  const rule = { saturatedMajorityShare: 0.9 };

  test('is off unless a threshold is set', () => {
    expect(collapseReason(collapsed, healthy, rule)).toBeNull();
  });

  test('entropy below the floor fires only while the majority share has saturated', () => {
    expect(collapseReason(collapsed, healthy, { ...rule, minAnswerEntropy: 0.1 })).toMatch(
      /mean answer entropy 0\.000 bits is below the floor 0\.1 while the mean majority share 1\.000/,
    );
    // healthy: entropy below a floor of 2 bits, but shares of 0.75 and 0.25 are far from saturated
    expect(collapseReason(healthy, healthy, { ...rule, minAnswerEntropy: 2 })).toBeNull();
  });

  test('median length drift either way, against the base model', () => {
    // healthy median: sorted 2 2 4 6 10 12 20 20 -> 8; collapsed: 40 (x5)
    expect(collapseReason(collapsed, healthy, { ...rule, maxMedianLengthFactor: 4 })).toMatch(
      /median path length moved from 8 to 40 tokens \(x5\.00\), beyond the factor 4/,
    );
    expect(collapseReason(collapsed, healthy, { ...rule, maxMedianLengthFactor: 6 })).toBeNull();
    expect(collapseReason(healthy, collapsed, { ...rule, maxMedianLengthFactor: 4 })).toMatch(/x0\.20/);
    expect(collapseReason(collapsed, null, { ...rule, maxMedianLengthFactor: 4 })).toBeNull();
  });

  test('repeated rationales', () => {
    expect(collapseReason(collapsed, healthy, { ...rule, minDistinctRationales: 0.5 })).toMatch(
      /only 25\.0% of a question's paths are distinct rationales/,
    );
  });
});

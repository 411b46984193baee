import { groupAdvantages, majorityReward, rewardQuestion, trainedSubset } from '../../method/ttrl';

describe('TTRL rewards and GRPO advantages', () => {
  test('a path earns 1 for the majority answer, 0 otherwise; an abstention and an all-abstain vote earn 0', () => {
    expect(majorityReward({ pathIndex: 0, answer: '5' }, '5')).toBe(1);
    expect(majorityReward({ pathIndex: 1, answer: '7' }, '5')).toBe(0);
    expect(majorityReward({ pathIndex: 2, answer: null }, '5')).toBe(0);
    expect(majorityReward({ pathIndex: 3, answer: null }, null)).toBe(0);
  });

  test('the trained paths are the first k by path index, whatever the input order', () => {
    const paths = [3, 0, 2, 1, 4].map((pathIndex) => ({ pathIndex }));
    expect(trainedSubset(paths, 3).map((p) => p.pathIndex)).toEqual([0, 1, 2]);
    expect(trainedSubset(paths, 10)).toHaveLength(5);
  });

  test('advantages are normalised by the sample standard deviation within the group', () => {
    // rewards 1 1 0 0: mean 0.5, sample std sqrt(1/3)
    const { advantages, hasSignal } = groupAdvantages([1, 1, 0, 0]);
    expect(hasSignal).toBe(true);
    const a = 0.5 / (Math.sqrt(1 / 3) + 1e-6);
    expect(advantages[0]).toBeCloseTo(a, 12);
    expect(advantages[3]).toBeCloseTo(-a, 12);
    expect(advantages.reduce((s, x) => s + x, 0)).toBeCloseTo(0, 12);
    // 1 0 0 0: the one right path is pushed up more than each wrong one is pushed down
    const skewed = groupAdvantages([1, 0, 0, 0]).advantages;
    expect(skewed[0]).toBeCloseTo(0.75 / (0.5 + 1e-6), 9);
    expect(skewed[1]).toBeCloseTo(-0.25 / (0.5 + 1e-6), 9);
  });

  test('a group whose rewards are all equal has no signal', () => {
    expect(groupAdvantages([1, 1, 1])).toEqual({ advantages: [0, 0, 0], hasSignal: false });
    expect(groupAdvantages([0, 0])).toEqual({ advantages: [0, 0], hasSignal: false });
    expect(groupAdvantages([1])).toEqual({ advantages: [0], hasSignal: false });
  });

  test('a question: vote over all m paths, reward and normalise over the trained ones', () => {
    // m = 6 vote for '5' (4 of 6); the first 4 trained: 5, 7, 5, null
    const paths = ['5', '7', '5', null, '5', '5'].map((answer, pathIndex) => ({ pathIndex, answer }));
    const q = rewardQuestion(paths, '5', 4);
    expect(q.hasSignal).toBe(true);
    expect(q.paths.map((p) => p.reward)).toEqual([1, 0, 1, 0]);
    expect(q.paths.map((p) => Math.sign(p.advantage))).toEqual([1, -1, 1, -1]);
  });
});

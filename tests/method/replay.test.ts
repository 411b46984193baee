import { chooseReplay } from '../../method/replay';
import { deriveSeed, Rng } from '../../base/rng';

describe('chooseReplay', () => {
  it('replays ratio × self-generated examples, distinct, in pool order, at most the pool', () => {
    const chosen = chooseReplay(100, 30, 0.5, 'c/round-1');
    expect(chosen).toHaveLength(15);
    expect(new Set(chosen).size).toBe(15);
    expect(chosen).toEqual([...chosen].sort((a, b) => a - b));
    expect(chosen.every((i) => Number.isInteger(i) && i >= 0 && i < 100)).toBe(true);
    expect(chooseReplay(10, 30, 1, 's')).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(chooseReplay(10, 0, 0.5, 's')).toEqual([]);
    expect(chooseReplay(10, 5, 0, 's')).toEqual([]);
  });

  it('is the first draws of Rng(deriveSeed(seed, "replay")) shuffling the pool: same seed, same choice', () => {
    const expected = new Rng(deriveSeed('c/round-2', 'replay'))
      .shuffle(Array.from({ length: 40 }, (_, i) => i))
      .slice(0, 8)
      .sort((a, b) => a - b);
    expect(chooseReplay(40, 16, 0.5, 'c/round-2')).toEqual(expected);
    expect(chooseReplay(40, 16, 0.5, 'c/round-3')).not.toEqual(expected);
  });

  it('rejects sizes and ratios that make no sense', () => {
    expect(() => chooseReplay(-1, 3, 0.5, 's')).toThrow(/poolSize/);
    expect(() => chooseReplay(3, 1.5, 0.5, 's')).toThrow(/selfGenerated/);
    expect(() => chooseReplay(3, 3, Number.NaN, 's')).toThrow(/ratio/);
  });
});

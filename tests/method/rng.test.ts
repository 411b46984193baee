import { deriveSeed, Rng } from '../../base/rng';

describe('rng', () => {
  it('derives the same seed from the same names and different seeds from different names', () => {
    expect(deriveSeed('run', 1, 'q7', 3)).toBe(deriveSeed('run', 1, 'q7', 3));
    expect(deriveSeed('run', 1, 'q7', 3)).not.toBe(deriveSeed('run', 1, 'q7', 4));
    expect(deriveSeed('a', 'bc')).not.toBe(deriveSeed('ab', 'c'));
  });
  it('replays a stream exactly and stays in range', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const xs = Array.from({ length: 1000 }, () => a.next());
    expect(Array.from({ length: 1000 }, () => b.next())).toEqual(xs);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.05);
    const r = new Rng(7);
    for (let i = 0; i < 200; i++) {
      const k = r.int(3, 5);
      expect(k >= 3 && k <= 5 && Number.isInteger(k)).toBe(true);
    }
    expect(new Rng(1).shuffle([1, 2, 3, 4, 5]).sort()).toEqual([1, 2, 3, 4, 5]);
  });
});

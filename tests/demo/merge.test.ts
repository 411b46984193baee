import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { mergeDemoResults } from '../../demo/merge';
import type { DemoResults } from '../../demo/results';

// A real 3-seed result, split into one file per seed as if each seed had run on its own.
const whole = JSON.parse(
  readFileSync(path.join(__dirname, '../../bench/results/demo-next-fit.json'), 'utf8'),
) as DemoResults;
const bySeed = whole.seeds.map((s, i) => ({
  file: `seed-${s.seed}.json`,
  results: { ...whole, seedsPlanned: [s.seed], seeds: [s], totalSeconds: 100 * (i + 1) },
}));

describe('mergeDemoResults', () => {
  it('puts the seeds back together and recomputes the mean gains over all of them', () => {
    expect(whole.seeds.length).toBeGreaterThanOrEqual(3);
    const merged = mergeDemoResults([...bySeed].reverse());
    expect(merged.seeds.map((s) => s.seed)).toEqual(whole.seeds.map((s) => s.seed));
    expect(merged.seedsPlanned).toEqual(whole.seeds.map((s) => s.seed));
    expect(merged.meanGreedyGainRound1).toBe(whole.meanGreedyGainRound1);
    expect(merged.meanScGainRound1).toBe(whole.meanScGainRound1);
    expect(merged.meanGreedyGainRound2).toBe(whole.meanGreedyGainRound2);
    expect(merged.meanScGainRound2).toBe(whole.meanScGainRound2);
    expect(merged.totalSeconds).toBe(100 + 200 + 300);
    // A base model built on another machine took another time: still the same model.
    const slower = { ...bySeed[1].results, baseModel: { ...whole.baseModel, trainSeconds: 999 } };
    expect(mergeDemoResults([bySeed[0], { file: 'b.json', results: slower }]).seeds).toHaveLength(2);
    // One seed alone gives that seed's gain, not the mean.
    const one = mergeDemoResults([bySeed[0]]);
    const s = whole.seeds[0].rounds;
    expect(one.meanGreedyGainRound1).toBeCloseTo((s[1].greedyAccuracy! - s[0].greedyAccuracy!) * 100, 5);
  });

  it('refuses a seed twice, another base model or other campaign settings, naming the file', () => {
    expect(() => mergeDemoResults([bySeed[0], { ...bySeed[0], file: 'again.json' }])).toThrow(
      /again\.json: seed \d+ is also in seed-\d+\.json/,
    );
    const otherBase = { ...bySeed[1].results, baseModel: { ...whole.baseModel, steps: 1 } };
    expect(() => mergeDemoResults([bySeed[0], { file: 'b.json', results: otherBase }])).toThrow(
      /b\.json: base model differs/,
    );
    const otherCampaign = { ...bySeed[1].results, campaign: { ...whole.campaign, m: 4 } };
    expect(() => mergeDemoResults([bySeed[0], { file: 'c.json', results: otherCampaign }])).toThrow(
      /c\.json: campaign settings differ/,
    );
    expect(() => mergeDemoResults([])).toThrow(/no results files/);
  });
});

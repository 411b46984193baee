/**
 * npm run bench:demo:merge -- --out bench/results/demo.json A.json B.json [...]
 *
 * One results file from demo runs of the same recipe and campaign settings on different seeds (run
 * one at a time, or on several machines): the seeds side by side, the mean gains recomputed over all
 * of them. Refuses files whose base model or campaign settings differ, or that share a seed: their
 * seeds would not be samples of the same recipe.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { meanGains, resultsTable, writeResults, type DemoResults } from './results';

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
/** The base model's identity: what was built, not how long the build took on that machine. */
const baseIdentity = ({ trainSeconds: _, ...rest }: DemoResults['baseModel']) => rest;

export function mergeDemoResults(parts: readonly { file: string; results: DemoResults }[]): DemoResults {
  if (parts.length === 0) throw new Error('bench:demo:merge: no results files given');
  const [first] = parts;
  const seen = new Map<number, string>();
  for (const { file, results } of parts) {
    if (
      results.recipe !== first.results.recipe ||
      !same(baseIdentity(results.baseModel), baseIdentity(first.results.baseModel))
    )
      throw new Error(`${file}: base model differs from ${first.file}'s (recipe ${results.recipe})`);
    if (!same(results.campaign, first.results.campaign))
      throw new Error(`${file}: campaign settings differ from ${first.file}'s`);
    for (const s of results.seeds) {
      const other = seen.get(s.seed);
      if (other !== undefined) throw new Error(`${file}: seed ${s.seed} is also in ${other}`);
      seen.set(s.seed, file);
    }
  }
  const seeds = parts.flatMap((p) => p.results.seeds).sort((a, b) => a.seed - b.seed);
  const dates = parts.map((p) => p.results.date).sort();
  return {
    ...first.results,
    // The machine (and base model build time) of the first part; each part's own stay in its file.
    date: dates[dates.length - 1],
    seedsPlanned: [...new Set(parts.flatMap((p) => p.results.seedsPlanned))].sort((a, b) => a - b),
    seeds,
    ...meanGains(seeds),
    totalSeconds: parts.reduce((t, p) => t + p.results.totalSeconds, 0),
  };
}

function main(): void {
  const argv = process.argv.slice(2);
  const at = argv.indexOf('--out');
  if (at < 0 || argv[at + 1] === undefined || argv.length < 3)
    throw new Error('usage: npm run bench:demo:merge -- --out OUT.json IN.json [IN.json ...]');
  const out = argv[at + 1];
  const inputs = argv.filter((_, i) => i !== at && i !== at + 1);
  const merged = mergeDemoResults(
    inputs.map((file) => ({ file, results: JSON.parse(readFileSync(file, 'utf8')) as DemoResults })),
  );
  process.stdout.write(
    `${resultsTable(merged)}\n\nresults: ${path.relative(process.cwd(), writeResults(out, merged))}\n`,
  );
}

if (require.main === module) main();

/**
 * npm run bench:ablations [-- --axes formats,m,minConfidence,temperature] [--variants 'all four;m = 4']
 *                          [--rounds N] [--seed N] [--out bench/results/ablations.json]
 *
 * The ablations, each a real campaign on the demo's base model through the Temporal
 * workflows: mixed formats (all four, CoT-only, direct-only, the two zero-shot formats), paths per
 * question m ∈ {4, 8, 16, 32}, minConfidence ∈ {0, 0.5, 0.8}, T ∈ {0.5, 0.7, 1.0}. One axis moves at
 * a time from the demo's settings (m 16, T 0.7, minConfidence 0.7, at most 8 paths per question, a
 * pool of 1 000 questions, all four formats; `--formats` sets another base); a variant equal to the
 * base settings runs once. The paper's findings to compare with: all four
 * formats beat CoT-only; after LMSI, few paths beat many paths before it.
 *
 * Writes the JSON after every variant (a long grid can be stopped and its finished rows kept) and a
 * markdown table beside it (ablations.md). Rows already in the file from a run with the same recipe,
 * seed, rounds and defaults are kept unless this run redoes them, so one axis can be run at a time.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { machine } from './machine';
import { parseDemoArgs, type DemoOptions } from '../demo/options';
import { DEMO_RECIPE } from '../embedded';
import { demoBase, ensureTemporalCli, ROOT, runSeed, startDemoServer } from '../demo/session';
import type { DemoSeedResult } from '../demo/results';
import type { FormatName } from '../method/types';

type Axis = 'formats' | 'm' | 'minConfidence' | 'temperature';
const AXES: Axis[] = ['formats', 'm', 'minConfidence', 'temperature'];

interface Variant {
  axis: Axis;
  label: string;
  change: Partial<Pick<DemoOptions, 'formats' | 'm' | 'minConfidence' | 'temperature'>>;
}

const FORMAT_SETS: Record<string, FormatName[]> = {
  'all four': ['few-shot-cot', 'few-shot-direct', 'zero-shot-cot', 'zero-shot-direct'],
  'CoT only': ['few-shot-cot', 'zero-shot-cot'],
  'direct only': ['few-shot-direct', 'zero-shot-direct'],
  'zero-shot CoT + direct': ['zero-shot-cot', 'zero-shot-direct'],
};

export function ablationVariants(axes: readonly Axis[]): Variant[] {
  const out: Variant[] = [];
  for (const axis of axes) {
    if (axis === 'formats')
      for (const [label, formats] of Object.entries(FORMAT_SETS))
        out.push({ axis, label, change: { formats } });
    if (axis === 'm') for (const m of [4, 8, 16, 32]) out.push({ axis, label: `m = ${m}`, change: { m } });
    if (axis === 'minConfidence')
      for (const c of [0, 0.5, 0.8])
        out.push({ axis, label: `minConfidence ${c}`, change: { minConfidence: c } });
    if (axis === 'temperature')
      for (const t of [0.5, 0.7, 1.0]) out.push({ axis, label: `T = ${t}`, change: { temperature: t } });
  }
  return out;
}

/** The variant's options; its key says which variants are the same campaign. */
function variantOptions(defaults: DemoOptions, v: Variant): { options: DemoOptions; key: string } {
  const options = { ...defaults, ...v.change };
  const key = JSON.stringify([options.formats, options.m, options.minConfidence, options.temperature]);
  return { options, key };
}

interface Row {
  axis: Axis;
  variant: string;
  m: number;
  temperature: number;
  minConfidence: number;
  formats: FormatName[];
  rounds: DemoSeedResult['rounds'];
  greedyGain: number | null;
  scGain: number | null;
  campaignId: string;
  /** When the variant finished (rows kept from an earlier run keep their own). */
  date?: string;
}

const pp = (x: number | null | undefined) => (x == null ? null : Math.round(x * 1000) / 10);

function row(v: Variant, options: DemoOptions, result: DemoSeedResult): Row {
  const first = result.rounds.find((r) => r.round === 0);
  const last = result.rounds.at(-1);
  const gain = (k: 'greedyAccuracy' | 'scAccuracy') => {
    const [a, b] = [pp(first?.[k]), pp(last?.[k])];
    return a === null || b === null || last === first ? null : Math.round((b - a) * 10) / 10;
  };
  return {
    axis: v.axis,
    variant: v.label,
    m: options.m,
    temperature: options.temperature,
    minConfidence: options.minConfidence,
    formats: options.formats,
    rounds: result.rounds,
    greedyGain: gain('greedyAccuracy'),
    scGain: gain('scAccuracy'),
    campaignId: result.campaignId,
    date: new Date().toISOString(),
  };
}

/** What must match for rows of two runs to sit in one table. */
interface GridHeader {
  recipe: string;
  seed: number;
  rounds: number;
  defaults: unknown;
}

/**
 * This run's rows plus the earlier file's rows for variants this run does not redo, when the earlier
 * file measured the same grid (recipe, seed, rounds, defaults); in the grid's order.
 */
export function mergeRows(
  earlier: (GridHeader & { rows: Row[] }) | null,
  header: GridHeader,
  rows: readonly Row[],
): Row[] {
  const same =
    earlier !== null &&
    JSON.stringify([earlier.recipe, earlier.seed, earlier.rounds, earlier.defaults]) ===
      JSON.stringify([header.recipe, header.seed, header.rounds, header.defaults]);
  const id = (r: Pick<Row, 'axis' | 'variant'>) => `${r.axis}/${r.variant}`;
  const fresh = new Set(rows.map(id));
  const all = [...(same ? earlier.rows.filter((r) => !fresh.has(id(r))) : []), ...rows];
  const order = ablationVariants(AXES).map((v) => `${v.axis}/${v.label}`);
  const rank = (r: Row) => (order.includes(id(r)) ? order.indexOf(id(r)) : order.length);
  return all.sort((a, b) => rank(a) - rank(b));
}

export function markdownTable(rows: readonly Row[]): string {
  const pct = (x: number | null | undefined) => (x == null ? '—' : `${(x * 100).toFixed(1)}`);
  const signed = (x: number | null) => (x === null ? '—' : `${x > 0 ? '+' : ''}${x.toFixed(1)}`);
  const lines = [
    '| axis | variant | greedy base → last | SC@m base → last | greedy gain (pp) | SC gain (pp) | kept paths (last round) | wall, last round (s) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of rows) {
    const [a, b] = [r.rounds.find((x) => x.round === 0), r.rounds.at(-1)];
    lines.push(
      `| ${r.axis} | ${r.variant} | ${pct(a?.greedyAccuracy)} → ${pct(b?.greedyAccuracy)} | ` +
        `${pct(a?.scAccuracy)} → ${pct(b?.scAccuracy)} | ${signed(r.greedyGain)} | ${signed(r.scGain)} | ` +
        `${b?.keptPaths ?? '—'} | ${b === undefined || b === a ? '—' : Math.round(b.wallSeconds)} |`,
    );
  }
  return lines.join('\n');
}

function parseArgs(argv: readonly string[]) {
  let axes: Axis[] = AXES;
  let out = 'bench/results/ablations.json';
  let only: string[] | null = null;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--axes') {
      axes = argv[++i].split(',') as Axis[];
      const bad = axes.filter((a) => !AXES.includes(a));
      if (bad.length) throw new Error(`unknown axis ${bad.join(', ')}; axes: ${AXES.join(', ')}`);
    } else if (argv[i] === '--variants') only = argv[++i].split(';');
    else if (argv[i] === '--out') out = argv[++i];
    else rest.push(argv[i]);
  }
  // The rest are the demo's flags (--rounds, --seed, ...); ablations default to one round.
  if (!rest.includes('--rounds')) rest.push('--rounds', '1');
  return { axes, only, out, defaults: parseDemoArgs(rest) };
}

async function main(): Promise<void> {
  const started = Date.now();
  const { axes, only, out, defaults } = parseArgs(process.argv.slice(2));
  const variants = ablationVariants(axes).filter((v) => only === null || only.includes(v.label));
  if (variants.length === 0) throw new Error(`no variant named ${only?.join(', ')}`);
  const temporalBin = ensureTemporalCli();
  const base = await demoBase(DEMO_RECIPE, defaults);
  const server = await startDemoServer(temporalBin, defaults.uiPort);
  const seed = defaults.seeds[0];
  const done = new Map<string, DemoSeedResult>();
  const rows: Row[] = [];
  const file = path.resolve(ROOT, out);
  mkdirSync(path.dirname(file), { recursive: true });
  const earlier = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as GridHeader & { rows: Row[] })
    : null;
  const header: GridHeader = {
    recipe: DEMO_RECIPE.name,
    seed,
    rounds: defaults.rounds,
    defaults: {
      m: defaults.m,
      temperature: defaults.temperature,
      minConfidence: defaults.minConfidence,
      maxPerQuestion: defaults.maxPerQuestion,
      unlabeledQuestions: defaults.pool ?? DEMO_RECIPE.sizes.unlabeled,
      formats: defaults.formats,
      // Grids measured before packing was an option trained with next-fit and have no such field.
      ...(defaults.packing === 'next-fit' ? {} : { packing: defaults.packing }),
      // Grids measured before the demo's training changed (2026-12-04) trained 3 epochs at 3e-4 in
      // every round and have no such field.
      ...(defaults.epochs === 3 &&
      defaults.laterEpochs === 3 &&
      defaults.learningRate === 3e-4 &&
      defaults.laterLearningRate === 3e-4
        ? {}
        : {
            training: {
              epochs: defaults.epochs,
              laterEpochs: defaults.laterEpochs,
              learningRate: defaults.learningRate,
              laterLearningRate: defaults.laterLearningRate,
            },
          }),
    },
  };
  try {
    for (const v of variants) {
      const { options, key } = variantOptions(defaults, v);
      let result = done.get(key);
      if (!result) {
        process.stdout.write(`\n== ${v.axis}: ${v.label}\n`);
        result = await runSeed(server, base, options, seed, 'ablation');
        done.set(key, result);
      }
      rows.push(row(v, options, result));
      const all = mergeRows(earlier, header, rows);
      const results = {
        machine: machine(),
        date: new Date().toISOString(),
        ...header,
        rows: all,
        totalSeconds: Math.round((Date.now() - started) / 1000),
      };
      writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
      writeFileSync(file.replace(/\.json$/, '.md'), `${markdownTable(all)}\n`);
    }
    process.stdout.write(`\n${markdownTable(rows)}\n\nresults: ${path.relative(ROOT, file)}\n`);
  } finally {
    await server.close();
  }
}

if (require.main === module)
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });

import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ArithBaseModel } from '../../embedded';
import { withPool } from '../../demo/pool';
import { generateArithSplits } from '../../method/tasks/arith';

const knobs = { minSteps: 4, maxSteps: 4, minDigits: 1, maxDigits: 1, style: 'terse' as const };

function fakeBase(dir: string): ArithBaseModel {
  const splits = generateArithSplits('pool-test', { train: 50, unlabeled: 20, eval: 30 }, knobs);
  mkdirSync(path.join(dir, 'data'), { recursive: true });
  const file = (name: string, rows: object[]) => {
    const f = path.join(dir, 'data', `${name}.jsonl`);
    writeFileSync(f, rows.map((r) => `${JSON.stringify(r)}\n`).join(''));
    return f;
  };
  return {
    dir,
    modelDir: path.join(dir, 'model'),
    data: {
      train: file('train', splits.train),
      unlabeled: file('unlabeled', splits.unlabeled),
      eval: file('eval', splits.eval),
      seedExamples: path.join(dir, 'data', 'seed-examples.jsonl'),
      exemplars: path.join(dir, 'data', 'exemplars.jsonl'),
    },
  };
}

const rows = (f: string) =>
  readFileSync(f, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as { id: string; question: string; answer?: string });

describe('demo unlabeled pool', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'lmsi-pool-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('starts with the recipe unlabeled split, then adds new questions disjoint from every split, without labels', async () => {
    const base = fakeBase(dir);
    const pooled = await withPool(base, { seed: 'p', size: 120, knobs });
    expect(pooled.modelDir).toBe(base.modelDir);
    const pool = rows(pooled.data.unlabeled);
    expect(pool).toHaveLength(120);
    expect(pool.slice(0, 20)).toEqual(rows(base.data.unlabeled));
    const others = new Set([...rows(base.data.train), ...rows(base.data.eval)].map((r) => r.question));
    expect(pool.filter((r) => others.has(r.question))).toEqual([]);
    expect(new Set(pool.map((r) => r.question)).size).toBe(120);
    expect(new Set(pool.map((r) => r.id)).size).toBe(120);
    expect(pool.every((r) => r.answer === undefined)).toBe(true);
  });

  it('is the same file for the same spec, and a smaller size takes the first questions of the split', async () => {
    const base = fakeBase(dir);
    const a = await withPool(base, { seed: 'p', size: 60, knobs });
    const first = readFileSync(a.data.unlabeled, 'utf8');
    rmSync(a.data.unlabeled);
    const b = await withPool(base, { seed: 'p', size: 60, knobs });
    expect(readFileSync(b.data.unlabeled, 'utf8')).toBe(first);
    const small = await withPool(base, { seed: 'p', size: 5, knobs });
    expect(rows(small.data.unlabeled)).toEqual(rows(base.data.unlabeled).slice(0, 5));
  });
});

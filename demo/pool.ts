import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { generateArithSplits, type ArithKnobs } from '../method/tasks/arith';
import type { ArithBaseModel } from '../embedded';

/**
 * The unlabeled pool the rounds sample: the base recipe's unlabeled split, then fresh questions from
 * the pool's own seeded stream until `size`, disjoint by text from every split of the base data.
 * It is not part of the base model's cache key: growing the pool leaves the base model (and its
 * training data) as it was, so a pool size is a round setting, like m.
 */
export interface PoolSpec {
  seed: string;
  /** Questions in the pool; fewer than the recipe's unlabeled split takes its first `size`. */
  size: number;
  knobs: Partial<ArithKnobs>;
}

/** The base model with `data.unlabeled` pointing at the pool file (written once, atomically). */
export async function withPool(base: ArithBaseModel, spec: PoolSpec): Promise<ArithBaseModel> {
  const file = path.join(base.dir, 'pools', `${spec.seed}-${spec.size}.jsonl`);
  if (!existsSync(file)) {
    const lines = async (f: string) => (await readFile(f, 'utf8')).split('\n').filter((l) => l.trim());
    const own = (await lines(base.data.unlabeled)).map(
      (l) => JSON.parse(l) as { id: string; question: string },
    );
    const taken = new Set<string>();
    for (const f of [base.data.train, base.data.eval, base.data.unlabeled])
      for (const l of await lines(f)) taken.add((JSON.parse(l) as { question: string }).question);
    const pool = own.slice(0, spec.size);
    const missing = spec.size - pool.length;
    if (missing > 0) {
      // Twice what is missing, so the drop of questions already in a split leaves enough.
      const { unlabeled } = generateArithSplits(
        spec.seed,
        { train: 0, unlabeled: missing * 2, eval: 0 },
        spec.knobs,
      );
      for (const r of unlabeled) {
        if (pool.length === spec.size) break;
        if (taken.has(r.question)) continue;
        taken.add(r.question);
        pool.push({ id: `pool-${pool.length + 1}`, question: r.question });
      }
      if (pool.length < spec.size)
        throw new Error(`demo pool: only ${pool.length} new questions of ${spec.size}; lower the pool size`);
    }
    await mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.tmp-${process.pid}`;
    await writeFile(tmp, pool.map((r) => `${JSON.stringify(r)}\n`).join(''));
    await rename(tmp, file);
  }
  return { ...base, data: { ...base.data, unlabeled: file } };
}

import { existsSync, readdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { isTemporaryDir } from '../checkpoint/atomic';

/** Checkpoints of a run live in `outDir/checkpoint-<step>` (Hugging Face Trainer's layout). */
export const checkpointDirName = (step: number): string => `checkpoint-${step}`;

/** The run's checkpoints, newest (highest step) first. */
export function listCheckpoints(outDir: string): { step: number; dir: string }[] {
  if (!existsSync(outDir)) return [];
  return readdirSync(outDir)
    .map((name) => ({ name, m: /^checkpoint-(\d+)$/.exec(name) }))
    .filter((e) => e.m !== null)
    .map((e) => ({ step: Number(e.m![1]), dir: path.join(outDir, e.name) }))
    .sort((a, b) => b.step - a.step);
}

/** Removes temporary folders a killed process left behind (never a complete checkpoint). */
export function removeTemporaryDirs(outDir: string): void {
  if (!existsSync(outDir)) return;
  for (const name of readdirSync(outDir))
    if (isTemporaryDir(name)) rmSync(path.join(outDir, name), { recursive: true, force: true });
}

/** Keeps the newest `keep` checkpoints and `always`; deletes older ones. */
export function pruneCheckpoints(outDir: string, keep: number, always: string): void {
  for (const c of listCheckpoints(outDir).slice(keep))
    if (path.resolve(c.dir) !== path.resolve(always)) rmSync(c.dir, { recursive: true, force: true });
}

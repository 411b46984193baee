import { getTask } from '../method/tasks';
import { fewShotCotPrompt, zeroShotCotPrompt } from '../method/formats';
import { deriveSeed, Rng } from '../base/rng';
import type { Exemplar, Question, Task } from '../method/types';
import type { ArtifactStore } from '../store';
import type { SamplingPromptKind, TaskRef } from '../contract';

export function taskOf(ref: TaskRef): Task {
  return getTask(ref.name, ref.options);
}

/** Questions [start, end) of a dataset snapshot, in file order. */
export async function readQuestions(
  store: ArtifactStore,
  ref: string,
  start = 0,
  end = Infinity,
): Promise<Question[]> {
  const out: Question[] = [];
  let i = 0;
  for await (const q of store.readJsonl<Question>(ref)) {
    if (i >= start && i < end) out.push(q);
    if (++i >= end) break;
  }
  return out;
}

/**
 * The prompt a question's paths are sampled from. Few-shot CoT uses one of the exemplar sets
 * (templates), chosen by a stream seeded by (seed, question id), so a retry picks the same one.
 */
export function samplingPrompt(
  task: Task,
  question: Question,
  kind: SamplingPromptKind,
  exemplarSets: readonly (readonly Exemplar[])[],
  seed: string,
): string {
  if (kind === 'zero-shot-cot') return zeroShotCotPrompt(task, question);
  const sets = exemplarSets.filter((s) => s.length > 0);
  if (sets.length === 0)
    throw new Error('few-shot CoT sampling needs exemplars (data.exemplars or self-generated)');
  const set = new Rng(deriveSeed(seed, 'exemplar-set', question.id)).pick(sets);
  return fewShotCotPrompt(task, set, question);
}

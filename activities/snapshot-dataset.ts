import * as path from 'node:path';
import { BadInputError } from '../method/errors';
import { getTask, isTaskName, TASK_NAMES, type TaskOptions } from '../method/tasks';
import type { BadLinePolicy, TaskName } from '../method/types';
import type { ActivityDeps } from './deps';
import { failingClearly } from './failures';

export interface SnapshotDatasetInput {
  task: TaskName;
  taskOptions?: TaskOptions;
  /** A questions file readable by the worker. */
  file: string;
  policy?: BadLinePolicy;
  limit?: number;
}

export interface DatasetSnapshot {
  /** JSONL artifact of validated `Question`s. */
  ref: string;
  count: number;
  /** Lines skipped under 'skip-and-report', stored as a JSONL artifact of BadLine. */
  badLines: number;
  badLinesRef: string | null;
  file: string;
}

/**
 * Copies a questions file into the artifact store, validating every line, so a round works from an
 * immutable snapshot: editing the file later cannot change what a resumed round reads.
 */
export function makeSnapshotDataset({ store }: ActivityDeps) {
  return async function snapshotDataset(input: SnapshotDatasetInput): Promise<DatasetSnapshot> {
    return failingClearly(async () => {
      const file = path.resolve(input.file);
      const task = taskFor(file, input);
      const { questions, bad } = await task.loadQuestions(file, {
        policy: input.policy ?? 'fail-fast',
        limit: input.limit,
      });
      const { ref, count } = await store.putJsonl(questions);
      const badLinesRef = bad.length > 0 ? (await store.putJsonl(bad)).ref : null;
      return { ref, count, badLines: bad.length, badLinesRef, file };
    });
  };
}

/** The task a file is read with; an unknown name is reported against that file, field task.name. */
function taskFor(file: string, input: SnapshotDatasetInput) {
  if (!isTaskName(input.task)) {
    throw new BadInputError(
      file,
      null,
      'task.name',
      `unknown task "${String(input.task)}"; known tasks: ${TASK_NAMES.join(', ')}`,
    );
  }
  return getTask(input.task, input.taskOptions);
}

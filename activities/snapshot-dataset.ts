import * as path from 'node:path';
import { BadInputError } from '../base/errors';
import { getTask, isTaskName, TASK_NAMES } from '../method/tasks';
import type { BadLine, BadLinePolicy, Question } from '../method/types';
import type { DatasetSnapshot, SnapshotDatasetInput } from '../contract';
import type { ActivityDeps } from './deps';
import { failingClearly } from './failures';

/**
 * Copies a questions file into the artifact store, validating every line, so a round works from an
 * immutable snapshot: editing the file later cannot change what a resumed round reads.
 */
export function makeSnapshotDataset({ store }: ActivityDeps) {
  return async function snapshotDataset(input: SnapshotDatasetInput): Promise<DatasetSnapshot> {
    return failingClearly(async () => {
      const file = path.resolve(input.file);
      const task = taskFor(file, input);
      const policy = input.policy ?? 'fail-fast';
      const loaded = await task.loadQuestions(file, { policy, limit: input.limit });
      const { questions, bad } = input.requireLabels ? labeledOnly(loaded, input, policy) : loaded;
      const { ref, count } = await store.putJsonl(questions);
      const badLinesRef = bad.length > 0 ? (await store.putJsonl(bad)).ref : null;
      return { ref, count, badLines: bad.length, badLinesRef, file };
    });
  };
}

/**
 * The questions that carry a label. Under fail-fast the first one without fails as bad input naming
 * its file, line and the label's field; under skip-and-report each is skipped and listed.
 */
function labeledOnly(
  { questions, bad }: { questions: Question[]; bad: BadLine[] },
  input: SnapshotDatasetInput,
  policy: BadLinePolicy,
): { questions: Question[]; bad: BadLine[] } {
  const field = input.taskOptions?.answerField ?? 'answer';
  const problem = 'no label: an evaluation question needs its gold answer';
  const unlabeled = questions.filter((q) => q.gold === null || q.gold.length === 0);
  if (unlabeled.length === 0) return { questions, bad };
  if (policy === 'fail-fast') {
    const { file, line } = unlabeled[0].source;
    throw new BadInputError(
      file,
      line,
      field,
      `${problem} (${unlabeled.length} of ${questions.length} questions have none)`,
    );
  }
  const skipped = unlabeled.map((q) => ({ file: q.source.file, line: q.source.line, field, problem }));
  return {
    questions: questions.filter((q) => !unlabeled.includes(q)),
    bad: [...bad, ...skipped].sort((a, b) => a.line - b.line),
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

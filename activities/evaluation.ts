import {
  accuracyVsK,
  calibrationTable,
  greedyAccuracy,
  scoreVotes,
  selfConsistencyAccuracy,
} from '../method/metrics';
import { HealthTally } from '../method/health';
import { answerPaths, majorityVote } from '../method/vote';
import type { Question } from '../method/types';
import type { EvaluationSummary, QuestionEvaluation, SummarizeEvaluationInput } from '../contract';
import type { ActivityDeps } from './deps';
import { readQuestions, taskOf } from './dataset';
import { failingClearly } from './failures';
import { healthQuestion, readMajorityAnswers } from './health';
import { toSampledPath } from './records';

/**
 * Step 6: scores an evaluation's shards against the labels: greedy accuracy, SC@k (and the
 * accuracy-vs-k curve) from one set of m samples, and the calibration table (confidence -> accuracy).
 */
export function makeSummarizeEvaluation({ store }: ActivityDeps) {
  return async function summarizeEvaluation(input: SummarizeEvaluationInput): Promise<EvaluationSummary> {
    return failingClearly(async () => {
      const task = taskOf(input.task);
      const questions = new Map<string, Question>(
        (await readQuestions(store, input.datasetRef)).map((q) => [q.id, q]),
      );
      const greedyItems: { question: Question; text: string }[] = [];
      const sampled: { question: Question; paths: ReturnType<typeof answerPaths> }[] = [];
      // The health reads the paths and their votes, never the labels.
      const health = new HealthTally();
      for (const ref of input.shardRefs) {
        for await (const r of store.readJsonl<QuestionEvaluation>(ref)) {
          const question = questions.get(r.questionId);
          if (!question?.gold)
            throw new Error(`evaluation question ${r.questionId} has no label in ${input.datasetRef}`);
          if (r.greedy) greedyItems.push({ question, text: r.greedy.text });
          const paths = answerPaths(
            task,
            question,
            r.paths.map((p) => toSampledPath(r.questionId, p)),
          );
          sampled.push({ question, paths });
          health.add(
            healthQuestion(r.questionId, r.paths, paths, majorityVote(paths, { weighting: input.weighting })),
          );
        }
      }
      const greedy = greedyItems.length > 0 ? greedyAccuracy(task, greedyItems) : null;
      const options = { seed: input.seed, weighting: input.weighting };
      const ks = [...new Set(input.scK)].sort((a, b) => a - b);
      const sc = ks.map((k) => selfConsistencyAccuracy(task, sampled, k, options));
      const curve = accuracyVsK(task, sampled, options);
      const scored = scoreVotes(
        task,
        sampled.map(({ question, paths }) => ({
          question,
          vote: majorityVote(paths, { weighting: input.weighting }),
        })),
      );
      const calibration = calibrationTable(scored, { bins: input.calibrationBins });
      const detailsRef = (await store.putJsonl(scored)).ref;
      return {
        questions: sampled.length,
        greedyAccuracy: greedy?.accuracy ?? null,
        greedyAbstained: greedy?.abstained ?? null,
        scAccuracy: sc[sc.length - 1].accuracy,
        sc: sc.map(({ k, accuracy }) => ({ k, accuracy })),
        accuracyVsK: curve.map(({ k, accuracy }) => ({ k, accuracy })),
        calibration,
        detailsRef,
        health: health.result(await readMajorityAnswers(store, input.previousDetailsRef)),
      };
    });
  };
}

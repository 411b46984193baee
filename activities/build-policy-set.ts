import { rewardQuestion } from '../method/ttrl';
import { answerPaths } from '../method/vote';
import type {
  BuildPolicySetInput,
  PolicyRecord,
  PolicySetResult,
  QuestionSamples,
  VoteRecord,
} from '../contract';
import type { ActivityDeps } from './deps';
import { readQuestions, taskOf } from './dataset';
import { failingClearly } from './failures';
import { toSampledPath } from './records';

/**
 * strategy 'ttrl': every question's trained paths with their reward (agreement with the majority
 * answer the round's vote chose over all m paths) and GRPO advantage. Questions whose trained paths
 * all earned the same reward carry no gradient and are left out (counted), as DAPO's dynamic
 * sampling leaves them out: kept, they would only dilute the token mean of the loss. Reads no label.
 */
export function makeBuildPolicySet({ store }: ActivityDeps) {
  return async function buildPolicySet(input: BuildPolicySetInput): Promise<PolicySetResult> {
    return failingClearly(async () => {
      const task = taskOf(input.task);
      const questions = new Map(
        (await readQuestions(store, input.datasetRef)).map((q) => [q.id, { ...q, gold: null }]),
      );
      const majority = new Map<string, string | null>();
      for await (const v of store.readJsonl<VoteRecord>(input.votesRef)) majority.set(v.questionId, v.answer);
      const records: PolicyRecord[] = [];
      let trainedQuestions = 0;
      let withoutSignal = 0;
      let rewardSum = 0;
      let trainedPaths = 0;
      for (const shardRef of input.shardRefs) {
        for await (const samples of store.readJsonl<QuestionSamples>(shardRef)) {
          if (samples.paths.length === 0) continue; // skipped: its prompt is longer than the context
          const question = questions.get(samples.questionId);
          if (!question || !majority.has(samples.questionId))
            throw new Error(
              `shard ${shardRef} names question ${samples.questionId}, not in ${input.datasetRef} and ${input.votesRef}`,
            );
          const answered = answerPaths(
            task,
            question,
            samples.paths.map((p) => toSampledPath(samples.questionId, p)),
          );
          const voted = majority.get(samples.questionId)!;
          const rewarded = rewardQuestion(answered, voted, input.trainedPaths);
          trainedQuestions += 1;
          trainedPaths += rewarded.paths.length;
          rewardSum += rewarded.paths.reduce((s, p) => s + p.reward, 0);
          if (!rewarded.hasSignal) {
            withoutSignal += 1;
            continue;
          }
          const text = new Map(samples.paths.map((p) => [p.pathIndex, p.text]));
          for (const p of rewarded.paths) {
            records.push({
              questionId: samples.questionId,
              pathIndex: p.pathIndex,
              prompt: samples.prompt,
              completion: text.get(p.pathIndex)!,
              answer: p.answer,
              majority: voted,
              reward: p.reward,
              advantage: p.advantage,
            });
          }
        }
      }
      const { ref } = await store.putJsonl(records);
      return {
        ref,
        examples: records.length,
        questions: trainedQuestions,
        questionsWithoutSignal: withoutSignal,
        meanReward: trainedPaths > 0 ? rewardSum / trainedPaths : 0,
      };
    });
  };
}

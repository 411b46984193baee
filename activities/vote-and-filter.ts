import { emptyFilterStats, keepConsistentPaths, mergeFilterStats } from '../method/filter';
import { HealthTally } from '../method/health';
import { voteOnQuestion, type AnsweredPath } from '../method/vote';
import type { QuestionSamples, VoteAndFilterInput, VoteAndFilterResult, VoteRecord } from '../contract';
import type { ActivityDeps } from './deps';
import { readQuestions, taskOf } from './dataset';
import { failingClearly } from './failures';
import { healthQuestion, readMajorityAnswers } from './health';
import { toSampledPath } from './records';

/**
 * The paper's steps 2 and 3: majority vote over each question's paths (self-consistency) and keep
 * the paths that agree with it. Reads no label: only the questions' text and the sampled paths.
 */
export function makeVoteAndFilter({ store }: ActivityDeps) {
  return async function voteAndFilter(input: VoteAndFilterInput): Promise<VoteAndFilterResult> {
    return failingClearly(async () => {
      const task = taskOf(input.task);
      // The labels in the snapshot, if any, are dropped here so nothing below can see them.
      const questions = new Map(
        (await readQuestions(store, input.datasetRef)).map((q) => [q.id, { ...q, gold: null }]),
      );
      const kept: AnsweredPath[] = [];
      const votes: VoteRecord[] = [];
      let stats = emptyFilterStats();
      let confidenceSum = 0;
      const health = new HealthTally();
      const previous = await readMajorityAnswers(store, input.previousVotesRef);
      for (const shardRef of input.shardRefs) {
        for await (const samples of store.readJsonl<QuestionSamples>(shardRef)) {
          const question = questions.get(samples.questionId);
          if (!question)
            throw new Error(
              `shard ${shardRef} names question ${samples.questionId}, not in ${input.datasetRef}`,
            );
          const voted = voteOnQuestion(
            task,
            question,
            samples.paths.map((p) => toSampledPath(samples.questionId, p)),
            { weighting: input.weighting },
          );
          health.add(healthQuestion(samples.questionId, samples.paths, voted.paths, voted.vote));
          const filtered = keepConsistentPaths(voted.paths, voted.vote, input.filter);
          kept.push(...filtered.kept);
          stats = mergeFilterStats(stats, filtered.stats);
          if (filtered.kept.length > 0) confidenceSum += voted.vote.confidence;
          votes.push({
            questionId: samples.questionId,
            answer: voted.vote.answer,
            votes: voted.vote.votes,
            m: voted.vote.m,
            confidence: voted.vote.confidence,
            abstentions: voted.vote.abstentions,
            tally: voted.vote.tally.map((t) => ({ answer: t.answer, votes: t.votes })),
            keptPathIndexes: filtered.kept.map((p) => p.pathIndex),
            dropped: filtered.dropped,
          });
        }
      }
      const keptRef = (await store.putJsonl(kept)).ref;
      const votesRef = (await store.putJsonl(votes)).ref;
      return {
        keptRef,
        votesRef,
        stats,
        meanKeptConfidence: stats.questionsKept > 0 ? confidenceSum / stats.questionsKept : null,
        health: health.result(previous),
      };
    });
  };
}

import * as fs from 'node:fs/promises';
import { CampaignConfig } from '../../config/campaign';
import type { VoteRecord } from '../../contract';
import { auditQuestion, auditRound, formatQuestionAudit, formatRoundAudit } from '../../report';
import { makeFakeCampaign, ROUND2_FILTER, type FakeCampaign } from './fake-campaign';

let campaign: FakeCampaign;

beforeAll(async () => {
  campaign = await makeFakeCampaign();
});

afterAll(async () => {
  await fs.rm(campaign.dir, { recursive: true, force: true });
});

const ctx = () => ({ campaignId: 'fake', store: campaign.store });

describe('auditRound', () => {
  it("shows a round's lineage, vote stats from its votes artifact, filter counts, loss, metrics and gate", async () => {
    const r1 = campaign.rounds[1];
    const a = await auditRound(r1, ctx());
    expect(a.lineage.modelIn).toBe(campaign.rounds[0].modelOut);
    expect(a.lineage.modelOut).toBe(r1.modelOut);
    expect(a.lineage.datasetRef).toBe(campaign.unlabeledRef);
    expect(a.lineage.evalRef).toBe(campaign.evalRef);
    expect(a.lineage.sampleShards).toEqual([
      { ref: r1.sampling!.shards[0].ref, questions: 2, paths: 8 },
      { ref: r1.sampling!.shards[1].ref, questions: 1, paths: 4 },
    ]);
    expect(a.lineage.votesRef).toBe(r1.vote!.votesRef);
    expect(a.task).toEqual({ name: 'arith' });
    expect(a.vote).toMatchObject({
      questions: 3,
      unanimous: 1,
      allAbstained: 0,
      distinctAnswers: [
        { answers: 1, questions: 1 },
        { answers: 2, questions: 2 },
      ],
    });
    expect(a.vote!.meanConfidence).toBeCloseTo(0.75, 12);
    expect(a.vote!.confidenceHistogram.filter((b) => b.questions > 0)).toEqual([
      { lo: 0.5, hi: 0.6, questions: 1, keptPaths: 2 },
      { lo: 0.7, hi: 0.8, questions: 1, keptPaths: 3 },
      { lo: 0.9, hi: 1, questions: 1, keptPaths: 4 },
    ]);
    expect(a.filter!.droppedBy.disagree).toBe(2);
    expect(a.training!.lossCurve).toEqual(campaign.fullLossCurves[1]);
    expect(a.metrics.greedyAccuracy).toBe(0.5);
    expect(a.gate.promoted).toBe(true);

    const text = formatRoundAudit(a);
    expect(text).toContain(`model in      ${r1.modelIn}`);
    expect(text).toContain('kept 9 of 12 paths; 3 of 3 questions kept at least one');
    expect(text).toContain('dropped: disagree 2, abstain 1, lowConfidence 0');
    expect(text).toContain('greedy 50.0%, SC@4 75.0%');
    expect(text).toContain('config not recorded (pass -c/--config)');
  });

  it('audits round 0, which only evaluated the base model', async () => {
    const a = await auditRound(campaign.rounds[0], ctx());
    expect(a.sampling).toBeNull();
    expect(a.vote).toBeNull();
    expect(a.lineage.modelIn).toBe(a.lineage.modelOut);
    expect(a.gate.reason).toBe('base model');
    expect(formatRoundAudit(a)).toContain('greedy 25.0%, SC@4 50.0%');
  });
});

describe('auditQuestion', () => {
  it("shows a sampled question's every path, its answer, the vote, the confidence and what was kept", async () => {
    const a = await auditQuestion(campaign.rounds[1], 'u2', ctx());
    expect(a.question?.text).toBe('Bo has 5 pens and buys 2 more. How many pens does he have?');
    expect(a.evaluated).toBeNull();
    const s = a.sampled!;
    expect(s.shardRef).toBe(campaign.rounds[1].sampling!.shards[0].ref);
    expect(s.vote).toMatchObject({ answer: '7', votes: 2, m: 4, confidence: 0.5, abstentions: 1 });
    expect(s.vote.tally).toEqual([
      { answer: '7', votes: 2 },
      { answer: '8', votes: 1 },
    ]);
    expect(s.consistent).toBe(true);
    expect(s.paths.map((p) => [p.pathIndex, p.stated, p.answer, p.kept, p.dropReason])).toEqual([
      [0, '7', '7', true, null],
      [1, '7', '7', true, null],
      [2, null, null, false, 'abstain'],
      [3, '8', '8', false, 'disagree'],
    ]);
    expect(s.paths[0].text).toBe('r1 path 0: 5 + 2 = 7. The answer is 7.');

    const text = formatQuestionAudit(a);
    expect(text).toContain('vote: 7 with 2 of 4 paths, confidence 50.0%, 1 abstained; tally 7: 2, 8: 1');
    expect(text).toContain('#3 answer 8 (stated "8"), stop');
    expect(text).toContain('dropped (disagree)');
    expect(text).toContain('re-extracted answers give the same vote');
  });

  it("names the filter's reason for each dropped path from the vote record, without the config", async () => {
    const r2 = campaign.rounds[2];
    // Round 2 records neither task nor datasets: the task comes from the caller, the question is a stand-in.
    await expect(auditQuestion(r2, 'u2', ctx())).rejects.toThrow(/pass --task <name> or -c\/--config/);
    const withTask = { ...ctx(), task: { name: 'arith' as const } };
    const u2 = await auditQuestion(r2, 'u2', withTask);
    expect(u2.question).toBeNull();
    expect(u2.sampled!.paths.map((p) => p.dropReason)).toEqual([
      'lowConfidence',
      'lowConfidence',
      'abstain',
      'disagree',
    ]);
    const u3 = await auditQuestion(r2, 'u3', withTask);
    expect(u3.sampled!.paths.map((p) => p.kept)).toEqual([true, true, true, false]);
    expect(u3.sampled!.paths[3].dropReason).toBe('overCap');
  });

  it('rebuilds the reasons from the filter options for votes recorded before the reasons were', async () => {
    const r2 = campaign.rounds[2];
    const before: Omit<VoteRecord, 'dropped'>[] = [];
    for await (const { dropped: _dropped, ...line } of campaign.store.readJsonl<VoteRecord>(
      r2.vote!.votesRef,
    ))
      before.push(line);
    const { ref } = await campaign.store.putJsonl(before);
    const old = { ...r2, vote: { ...r2.vote!, votesRef: ref } };
    const config = CampaignConfig.parse({
      name: 'fake',
      model: { dir: '/models/base' },
      task: { name: 'arith' },
      data: { unlabeledQuestions: '/data/u.jsonl', evaluation: '/data/e.jsonl' },
      training: { steps: 12 },
      filtering: ROUND2_FILTER,
    });
    const u2 = await auditQuestion(old, 'u2', { ...ctx(), config });
    expect(u2.sampled!.paths.map((p) => p.dropReason)).toEqual([
      'lowConfidence',
      'lowConfidence',
      'abstain',
      'disagree',
    ]);
    const u3 = await auditQuestion(old, 'u3', { ...ctx(), config });
    expect(u3.sampled!.paths[3].dropReason).toBe('overCap');
    // Without the filter options, the reason beyond abstain/disagree cannot be named.
    const bare = await auditQuestion(old, 'u3', { ...ctx(), task: { name: 'arith' } });
    expect(bare.sampled!.paths[3].dropReason).toBe('filtered');
  });

  it('shows an evaluation question: greedy path, sampled answers, the vote and whether it was right', async () => {
    const a = await auditQuestion(campaign.rounds[1], 'e4', ctx());
    expect(a.sampled).toBeNull();
    const e = a.evaluated!;
    expect(e.gold).toEqual(['40']);
    expect(e.greedy).toMatchObject({ answer: '4' });
    expect(e.paths.map((p) => p.answer)).toEqual(['7', '7', '7', '40']);
    expect(e.vote).toEqual({ answer: '7', confidence: 0.75, correct: false });
    expect(formatQuestionAudit(a)).toContain('vote: 7, confidence 75.0%, wrong');
  });

  it('detects a votes record that the sampled paths do not support', async () => {
    const r1 = campaign.rounds[1];
    const votes = [];
    for await (const v of campaign.store.readJsonl<{ questionId: string; answer: string | null }>(
      r1.vote!.votesRef,
    ))
      votes.push(v.questionId === 'u1' ? { ...v, answer: '6' } : v);
    const tampered = { ...r1, vote: { ...r1.vote!, votesRef: (await campaign.store.putJsonl(votes)).ref } };
    const a = await auditQuestion(tampered, 'u1', ctx());
    expect(a.sampled!.consistent).toBe(false);
    expect(a.sampled!.revotedAnswer).toBe('5');
    expect(formatQuestionAudit(a)).toContain('MISMATCH: re-extracted answers vote 5, the record says 6');
  });

  it('says when a question is not in the round', async () => {
    await expect(auditQuestion(campaign.rounds[1], 'nope', ctx())).rejects.toThrow(
      'question nope is in neither the sampled nor the evaluation shards of round 1',
    );
  });
});

import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, RetryState } from '@temporalio/common';
import { temporal as proto } from '@temporalio/proto';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import {
  campaignStatus,
  cancelCampaign,
  finishedRounds,
  pauseCampaign,
  resumeCampaign,
  roundStepSeconds,
  startCampaign,
} from '../../client';
import type { RoundResult } from '../../contract';
import { writeArithSplits } from '../../method/tasks/arith';
import {
  auditQuestion,
  auditRound,
  buildReport,
  formatQuestionAudit,
  formatRoundAudit,
  writeReport,
} from '../../report';
import { LocalArtifactStore } from '../../store';
import { roundProgressQuery } from '../../workflows/messages';
import { campaignWorkers, withWorkers } from '../helpers/campaign';
import { testCampaignConfig } from '../../testing/campaign-config';
import { connectTestTemporal, tempDir, type TestTemporal } from '../helpers/temporal';
import { pretrainedTinyModel, writeRandomTinyModel } from '../../testing/tiny-model';

let temporal: TestTemporal;
beforeAll(async () => {
  temporal = await connectTestTemporal();
});
afterAll(async () => {
  await temporal.close();
});

async function fixture(name: string, sizes = { train: 0, unlabeled: 20, eval: 12 }) {
  const root = await tempDir(name);
  const dataDir = path.join(root, 'data');
  await writeArithSplits(dataDir, 3, sizes, { minSteps: 2, maxSteps: 3 });
  const modelDir = writeRandomTinyModel(path.join(root, 'model'));
  const config = testCampaignConfig({
    name: `${name}-${Date.now()}`,
    modelDir,
    dataDir,
    artifactsDir: path.join(root, 'artifacts'),
  });
  return { root, config };
}

describe('selfImprovementCampaign (real dev server, real workers, real model)', () => {
  it('runs round 0 and two rounds, continuing as new between them, with status and lineage', async () => {
    const base = await pretrainedTinyModel();
    const root = await tempDir('campaign');
    const config = testCampaignConfig({
      name: `campaign-${Date.now()}`,
      modelDir: base.modelDir,
      dataDir: path.dirname(base.data.eval),
      artifactsDir: path.join(root, 'artifacts'),
      extra: {
        selfGeneration: { questionsPerRound: 8, questionShots: 2 },
        // Round 2 trains half the steps of round 1 (a per-round schedule reaches the trainer).
        training: {
          steps: 4,
          batchSize: 4,
          checkpointEvery: 2,
          learningRate: 1e-3,
          fromRound: { 2: { steps: 2 } },
        },
      },
    });
    const workers = await campaignWorkers(temporal, config);
    const result = await withWorkers(workers, async () => {
      const handle = await startCampaign(temporal.client, config);
      return handle.result();
    });
    expect(result.rounds.map((r) => r.round)).toEqual([0, 1, 2]);

    // The campaign's last step wrote its report into the store (writeReport activity).
    const reportRefs = result.report!;
    expect(reportRefs.rounds).toBe(3);
    const reportStore = new LocalArtifactStore(config.artifacts.dir);
    const stored = await reportStore.getJson<{
      kind: string;
      campaignId: string;
      rounds: { round: number }[];
    }>(reportRefs.jsonRef);
    expect(stored.kind).toBe('lmsi.report');
    expect(stored.campaignId).toBe(config.name);
    expect(stored.rounds.map((r) => r.round)).toEqual([0, 1, 2]);
    expect((await reportStore.get(reportRefs.htmlRef)).toString('utf8')).toContain('<svg');
    const materialized = path.join(await tempDir('report-tree'), 'report');
    await reportStore.materializeTree(reportRefs.treeRef, materialized);
    expect((await fs.readdir(materialized)).sort()).toEqual(['report.html', 'report.json']);

    const status = await campaignStatus(temporal.client, config.name);
    expect(status.state).toBe('completed');
    expect(status.rounds).toHaveLength(3);
    for (const r of status.rounds) {
      expect(r.scAccuracy).toBeGreaterThanOrEqual(0);
      expect(r.greedyAccuracy).not.toBeNull();
    }

    const store = new LocalArtifactStore(config.artifacts.dir);
    const rounds = await finishedRounds(temporal.client, config.name, { store });
    expect(rounds).toHaveLength(3);
    // Every round wrote its lineage to the store itself (recordRound), and the campaign's state refers
    // to it: read back, it is the round workflow's result less the record's own ref.
    for (const r of status.rounds) expect(r.resultRef).toMatch(/^sha256:[0-9a-f]{64}$/);
    for (const r of rounds) {
      const { recordRef, ...fromWorkflow } = await temporal.client.workflow
        .getHandle<(i: unknown) => Promise<RoundResult>>(r.summary.workflowId)
        .result();
      expect(recordRef).toBe(r.summary.resultRef);
      expect(r.result).toEqual(fromWorkflow);
      expect(await store.getJson(r.summary.resultRef!)).toEqual({
        kind: 'lmsi.round-result',
        version: 1,
        campaignId: config.name,
        workflowId: `${config.name}/round-${r.summary.round}`,
        result: r.result,
      });
    }
    const [r0, r1] = [rounds[0].result, rounds[1].result];
    expect(r0.sampling).toBeNull();
    expect(r0.evaluation.summary.questions).toBe(24);
    // Self-generated questions (the paper's) joined the pool before sampling.
    const generated = r1.generatedQuestions!;
    expect(generated.sampled).toBe(8);
    expect(generated.added + generated.unparseable + generated.duplicates).toBe(8);
    expect(generated.count).toBe(40 + generated.added);
    expect(r1.sampling?.questions).toBe(generated.count);
    expect(r1.sampling?.shards).toHaveLength(Math.ceil(generated.count / 8));
    expect(r1.sampling?.paths).toBe(4 * generated.count);
    expect(r1.vote?.stats.questions).toBe(generated.count);
    expect(r1.modelIn).toBe(r0.modelOut);
    // The pretrained tiny model states answers, so votes agree and the round really fine-tunes.
    expect(r1.vote!.stats.kept).toBeGreaterThan(0);
    expect(r1.trainingSet!.examples).toBeGreaterThan(0);
    expect(r1.training!.trained).toBe(true);
    expect(r1.training!.steps).toBe(4);
    expect(r1.training!.lossCurve.length).toBeGreaterThan(0);
    expect(r1.modelOut).not.toBe(r1.modelIn);
    // The trainer ran with the campaign's packing (the config's default, best-fit; the engine's own
    // default is next-fit), as the checkpoint's saved arguments say.
    const trained = path.join(await tempDir('round-1-model'), 'model');
    await store.materializeTree(r1.modelOut, trained);
    const trainerState = JSON.parse(await fs.readFile(path.join(trained, 'trainer_state.json'), 'utf8'));
    expect(trainerState.args.packing).toBe('best-fit');
    const rounds2 = rounds[2].result;
    expect(rounds2.modelIn).toBe(r1.gate.promoted ? r1.modelOut : r1.modelIn);
    expect(rounds2.training).toMatchObject({ trained: true, steps: 2 });
    // Where round 1's time went, from its history: every step, none longer than the round.
    const steps = await roundStepSeconds(temporal.client, config.name, 1);
    expect(Object.keys(steps).sort()).toEqual([
      'evaluate',
      'format',
      'prepare',
      'record',
      'sample',
      'train',
      'vote',
    ]);
    const wall = (Date.parse(r1.finishedAt) - Date.parse(r1.startedAt)) / 1000;
    for (const seconds of Object.values(steps)) {
      expect(seconds).toBeGreaterThanOrEqual(0);
      expect(seconds).toBeLessThanOrEqual(wall + 0.1);
    }
    expect(steps.train).toBeGreaterThan(0);
    // Every ref in the lineage is a real, intact artifact.
    for (const ref of [
      r1.vote!.keptRef,
      r1.vote!.votesRef,
      r1.trainingSet!.ref,
      r1.evaluation.summary.detailsRef,
      ...r1.sampling!.shards.map((s) => s.ref),
    ]) {
      await expect(store.get(ref)).resolves.toBeInstanceOf(Buffer);
    }

    // The report and the audit read the real lineage back.
    const report = await buildReport({ campaignId: config.name, rounds: rounds.map((r) => r.result), store });
    expect(report.rounds.map((r) => r.round)).toEqual([0, 1, 2]);
    const out = await tempDir('report');
    const written = await writeReport(out, report);
    expect(await fs.readFile(written.html, 'utf8')).toContain('<svg');
    const audit = await auditRound(r1, { campaignId: config.name, store });
    expect(formatRoundAudit(audit)).toContain(r1.vote!.keptRef);
    const someQuestion = (
      await store.readJsonl<{ questionId: string }>(r1.vote!.votesRef)[Symbol.asyncIterator]().next()
    ).value!;
    const qa = await auditQuestion(r1, someQuestion.questionId, { campaignId: config.name, store });
    expect(formatQuestionAudit(qa)).toContain(someQuestion.questionId);

    // The campaign continued as new once per round: each run's history is small.
    const runs: { runId: string; events: number; startTime: Date }[] = [];
    for await (const w of temporal.client.workflow.list({ query: `WorkflowId = '${config.name}'` })) {
      runs.push({ runId: w.runId, events: w.historyLength, startTime: w.startTime });
    }
    expect(runs).toHaveLength(3);
    for (const r of runs) expect(r.events).toBeLessThan(250);

    if (process.env.LMSI_RECORD_HISTORIES === '1') {
      // Re-record after an intended workflow change: LMSI_RECORD_HISTORIES=1 npx jest tests/workflows
      // Keep the histories the change must still replay under other names (as
      // campaign-final-run-before-report.json keeps a final run from before the report step, and
      // campaign-*-before-round-record.json runs from before rounds were recorded, and
      // campaign-*-before-ordered-pause.json runs from before lmsi-ordered-pause, and
      // campaign-*- and round-*-before-round-writes-record.json runs from before rounds recorded
      // themselves).
      runs.sort((a, b) => a.startTime.getTime() - b.startTime.getTime());
      const save = async (file: string, workflowId: string, runId?: string) => {
        const history = await temporal.client.workflow.getHandle(workflowId, runId).fetchHistory();
        await fs.writeFile(path.join(__dirname, '../histories', file), historyToJSON(history));
      };
      await save('campaign-first-run.json', config.name, runs[0].runId);
      await save('campaign-after-continue-as-new.json', config.name, runs[1].runId);
      await save('campaign-final-run.json', config.name, runs[2].runId);
      await save('round-0.json', `${config.name}/round-0`);
      await save('round-1.json', `${config.name}/round-1`);
    }
  });
});

async function waitFor<T>(probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting; last value ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('campaign control', () => {
  it('pause holds between activities and resume continues', async () => {
    const { config } = await fixture('pause');
    const workers = await campaignWorkers(temporal, config);
    await withWorkers(workers, async () => {
      const handle = await startCampaign(temporal.client, { ...config, rounds: 1 });
      await waitFor(
        () => campaignStatus(temporal.client, config.name),
        (s) => s.step === 'sample' || s.step === 'evaluate',
      );
      await pauseCampaign(temporal.client, config.name);
      const paused = await waitFor(
        () => campaignStatus(temporal.client, config.name),
        (s) => s.state === 'paused',
      );
      // The activity in flight finishes; after that nothing is scheduled while paused.
      const round = temporal.client.workflow.getHandle(`${config.name}/round-${paused.round}`);
      const pending = async () => (await round.describe()).raw.pendingActivities?.length ?? 0;
      // Settled: no activity in flight, the round's workflow task that followed the last completion
      // has run, and the progress it signalled has reached the campaign (CI once read the campaign's
      // progress between the round's report and its delivery, and saw `done` move while paused).
      const held = await waitFor(
        async () => {
          const described = (await round.describe()).raw;
          const roundProgress = await round.query(roundProgressQuery);
          const status = await campaignStatus(temporal.client, config.name);
          const settled =
            (described.pendingActivities?.length ?? 0) === 0 &&
            !described.pendingWorkflowTask &&
            status.round === roundProgress.round &&
            status.step === roundProgress.step &&
            status.progress.done === roundProgress.done &&
            status.progress.total === roundProgress.total;
          return { status, settled };
        },
        (v) => v.settled,
      ).then((v) => v.status);
      // Counted as scheduled activities, not as events: the workflow task that follows the last
      // activity's completion can still add its own events on a loaded machine.
      const scheduled = async () =>
        (await round.fetchHistory()).events!.filter((e) => e.activityTaskScheduledEventAttributes).length;
      const scheduledHeld = await scheduled();
      await new Promise((r) => setTimeout(r, 3000));
      const stillHeld = await campaignStatus(temporal.client, config.name);
      expect(stillHeld.state).toBe('paused');
      expect(await pending()).toBe(0);
      expect(await scheduled()).toBe(scheduledHeld);
      expect({ round: stillHeld.round, step: stillHeld.step, done: stillHeld.progress.done }).toEqual({
        round: held.round,
        step: held.step,
        done: held.progress.done,
      });
      expect(paused.round).toBe(held.round);
      await resumeCampaign(temporal.client, config.name);
      const result = await handle.result();
      expect(result.rounds.map((r) => r.round)).toEqual([0, 1]);
    });
  });

  it('pause and resume sent back to back reach the round in order, and the campaign completes', async () => {
    const { config } = await fixture('pause-burst');
    const workers = await campaignWorkers(temporal, config);
    await withWorkers(workers, async () => {
      const handle = await startCampaign(temporal.client, { ...config, rounds: 1 });
      await waitFor(
        () => campaignStatus(temporal.client, config.name),
        (s) => s.round === 1,
      );
      // Each resume comes while the campaign's pause to the round can still be in flight (two
      // signals in flight at once were seen to arrive swapped, leaving the round paused for good).
      for (const gapMs of [0, 20, 60, 150]) {
        await pauseCampaign(temporal.client, config.name);
        await new Promise((r) => setTimeout(r, gapMs));
        await resumeCampaign(temporal.client, config.name);
      }
      const result = await handle.result();
      expect(result.rounds.map((r) => r.round)).toEqual([0, 1]);
      // The round heard pause and resume alternately, ending with resume (it may hear fewer: a
      // burst collapses into the latest state).
      const history = await temporal.client.workflow.getHandle(`${config.name}/round-1`).fetchHistory();
      const heard = history
        .events!.map((e) => e.workflowExecutionSignaledEventAttributes?.signalName)
        .filter((name) => name === 'pause' || name === 'resume');
      heard.forEach((name, i) => expect(name).toBe(i % 2 === 0 ? 'pause' : 'resume'));
      expect(heard.length % 2).toBe(0);
    });
  });

  it('cancel ends the campaign and its running round cleanly', async () => {
    const { config } = await fixture('cancel', { train: 0, unlabeled: 64, eval: 12 });
    const workers = await campaignWorkers(temporal, config);
    await withWorkers(workers, async () => {
      const handle = await startCampaign(temporal.client, {
        ...config,
        sampling: { ...config.sampling, maxConcurrentShards: 1 },
      });
      await waitFor(
        () => campaignStatus(temporal.client, config.name),
        (s) => s.round === 1 && s.step === 'sample',
      );
      await cancelCampaign(temporal.client, config.name);
      await expect(handle.result()).rejects.toThrow();
      const described = await handle.describe();
      expect(described.status.name).toBe('CANCELLED');
      const round = await temporal.client.workflow.getHandle(`${config.name}/round-1`).describe();
      expect(round.status.name).toBe('CANCELLED');
      expect((await campaignStatus(temporal.client, config.name)).state).toBe('cancelled');
    });
  });
});

const EventType = proto.api.enums.v1.EventType;

describe('history size', () => {
  it('a round has the same number of history events for 50 and for 500 questions (5 shards)', async () => {
    const events: number[] = [];
    const total: number[] = [];
    for (const unlabeled of [50, 500]) {
      const { config } = await fixture(`history-${unlabeled}`, { train: 0, unlabeled, eval: 8 });
      const small = {
        ...config,
        rounds: 1,
        sampling: { ...config.sampling, m: 1, maxNewTokens: 4, shardSize: unlabeled / 5 },
      };
      const workers = await campaignWorkers(temporal, small);
      await withWorkers(workers, async () => (await startCampaign(temporal.client, small)).result());
      const history = await temporal.client.workflow.getHandle(`${small.name}/round-1`).fetchHistory();
      // Workflow-task events depend on timing (completions that arrive together share one workflow
      // task), so the count compares every other event: commands and their outcomes.
      const workflowTask = /^EVENT_TYPE_WORKFLOW_TASK_/;
      events.push(
        history.events!.filter(
          (e) => !workflowTask.test(String(EventType[e.eventType as number] ?? e.eventType)),
        ).length,
      );
      total.push(history.events!.length);
    }
    expect(events[0]).toBe(events[1]);
    for (const n of total) expect(n).toBeLessThan(200);
  });
});

describe('bad input', () => {
  it('fails the campaign once, non-retryably, naming the file, line and field', async () => {
    const { config, root } = await fixture('bad-input');
    const bad = path.join(root, 'data', 'unlabeled.jsonl');
    await fs.appendFile(bad, '{"id": "x-1", "question": 42}\n');
    const workers = await campaignWorkers(temporal, config);
    const err = await withWorkers(workers, async () =>
      (await startCampaign(temporal.client, config)).result().then(
        () => null,
        (e: unknown) => e,
      ),
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const activity = (err as WorkflowFailedError).cause as ActivityFailure;
    expect(activity.retryState).toBe(RetryState.NON_RETRYABLE_FAILURE);
    const app = activity.cause as ApplicationFailure;
    expect(app.type).toBe('BadInput');
    expect(app.message).toBe(`${bad}:21: question: Invalid input: expected string, received number`);
  });
});

describe('distillation', () => {
  it('fine-tunes the student on the teacher’s self-training set and evaluates both', async () => {
    const base = await pretrainedTinyModel();
    const root = await tempDir('distill');
    const studentDir = writeRandomTinyModel(path.join(root, 'student'), 5);
    const config = testCampaignConfig({
      name: `distill-${Date.now()}`,
      modelDir: base.modelDir,
      dataDir: path.dirname(base.data.eval),
      artifactsDir: path.join(root, 'artifacts'),
      extra: { rounds: 1, student: { dir: studentDir } },
    });
    const workers = await campaignWorkers(temporal, config);
    await withWorkers(workers, async () => (await startCampaign(temporal.client, config)).result());
    const store = new LocalArtifactStore(config.artifacts.dir);
    const [r0, r1] = (await finishedRounds(temporal.client, config.name, { store })).map((r) => r.result);
    expect(r0.student?.training).toBeNull();
    expect(r0.student?.evaluation.summary.questions).toBe(24);
    expect(r1.student?.modelIn).toBe(r0.student?.modelOut);
    expect(r1.student?.training?.trained).toBe(true);
    expect(r1.student?.modelOut).not.toBe(r1.student?.modelIn);
    expect(r1.student?.evaluation.summary.questions).toBe(24);
    const status = await campaignStatus(temporal.client, config.name);
    expect(status.rounds[1].studentScAccuracy).toBe(r1.student?.evaluation.summary.scAccuracy);
  });
});

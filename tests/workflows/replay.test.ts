import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { quietTestRuntime, workflowBundle } from '../helpers/temporal';

/**
 * Determinism guard: every committed history must replay against today's workflow code. A change
 * that would break running workflows fails here; make it with `patched()` and record a new history
 * (LMSI_RECORD_HISTORIES=1 npx jest tests/workflows).
 */
const dir = path.resolve(__dirname, '../histories');
const histories = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));
const load = (file: string) => JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));

beforeAll(() => quietTestRuntime());

describe('committed workflow histories replay', () => {
  it('has histories to replay', () => {
    expect(histories).toContain('snapshot-dataset.json');
  });

  it.each(histories)('%s', async (file) => {
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, load(file), file);
  });

  it('replays campaigns from before and after the report step, the round records, ordered pause and rounds that record themselves (patches)', () => {
    // Every run is in `histories` and replays above; here: they really differ by the patches
    // lmsi-write-report (the report step), lmsi-round-record (the campaign's recordRound after each
    // round), lmsi-ordered-pause (a marker only: no pause was sent in these runs) and
    // lmsi-round-writes-record (the round's own recordRound: the campaign's goes).
    type Event = {
      eventType: string;
      markerRecordedEventAttributes?: { details?: Record<string, unknown> };
      activityTaskScheduledEventAttributes?: { activityType: { name: string } };
    };
    const facts = (file: string) => {
      const events: Event[] = load(file).events;
      return {
        patchMarkers: events.filter((e) => e.markerRecordedEventAttributes?.details?.['patch-data']).length,
        activities: events.flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType.name ?? []),
        completed: events.some((e) => e.eventType === 'EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED'),
      };
    };
    expect(facts('campaign-final-run-before-report.json')).toEqual({
      patchMarkers: 0,
      activities: [],
      completed: true,
    });
    expect(facts('campaign-final-run-before-round-record.json')).toEqual({
      patchMarkers: 1,
      activities: ['writeReport'],
      completed: true,
    });
    expect(facts('campaign-final-run-before-ordered-pause.json')).toEqual({
      patchMarkers: 2,
      activities: ['recordRound', 'writeReport'],
      completed: true,
    });
    // lmsi-ordered-pause (pause and resume reach the round one at a time) adds a marker to every run.
    expect(facts('campaign-final-run-before-round-writes-record.json')).toEqual({
      patchMarkers: 3,
      activities: ['recordRound', 'writeReport'],
      completed: true,
    });
    // Rounds that record themselves: the campaign calls no recordRound (nor its patch), the round does.
    expect(facts('campaign-final-run.json')).toEqual({
      patchMarkers: 2,
      activities: ['writeReport'],
      completed: true,
    });
    for (const run of ['campaign-first-run', 'campaign-after-continue-as-new']) {
      const before = facts(`${run}-before-round-record.json`);
      const unordered = facts(`${run}-before-ordered-pause.json`);
      const campaignRecords = facts(`${run}-before-round-writes-record.json`);
      const roundRecords = facts(`${run}.json`);
      expect(before.activities).not.toContain('recordRound');
      expect(unordered.activities.filter((a) => a === 'recordRound')).toHaveLength(1);
      expect(unordered.patchMarkers).toBe(before.patchMarkers + 1);
      expect(campaignRecords.activities).toEqual(unordered.activities);
      expect(campaignRecords.patchMarkers).toBe(unordered.patchMarkers + 1);
      expect(roundRecords.activities).not.toContain('recordRound');
      expect(roundRecords.patchMarkers).toBe(campaignRecords.patchMarkers - 1);
    }
    for (const round of ['round-0', 'round-1']) {
      const before = facts(`${round}-before-round-writes-record.json`);
      const after = facts(`${round}.json`);
      expect(before.activities).not.toContain('recordRound');
      expect(after.activities.filter((a) => a === 'recordRound')).toHaveLength(1);
      expect(after.patchMarkers).toBe(before.patchMarkers + 1);
    }
  });

  it("replays a TTRL round (strategy 'ttrl'): reward and GRPO update in place of format and fine-tune", () => {
    type Event = { activityTaskScheduledEventAttributes?: { activityType: { name: string } } };
    const events: Event[] = load('round-1-ttrl.json').events;
    const activities = [
      ...new Set(events.flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType.name ?? [])),
    ];
    expect(activities).toEqual([
      'samplePaths',
      'voteAndFilter',
      'buildPolicySet',
      'policyUpdate',
      'evaluateShard',
      'summarizeEvaluation',
      'recordRound',
    ]);
  });

  it('detects a history the code would not produce', async () => {
    const history = load('snapshot-dataset.json');
    const scheduled = history.events.find(
      (e: { activityTaskScheduledEventAttributes?: unknown }) => e.activityTaskScheduledEventAttributes,
    );
    scheduled.activityTaskScheduledEventAttributes.activityType.name = 'someOtherActivity';
    await expect(
      Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, 'edited'),
    ).rejects.toThrow(DeterminismViolationError);
    // (toThrow(undefined) would accept any error: make sure the class really resolved.)
    expect(DeterminismViolationError).toBeInstanceOf(Function);
  });
});

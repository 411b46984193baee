import { WorkflowNotFoundError } from '@temporalio/client';
import { SingleBar, Presets } from 'cli-progress';
import { campaignStatus, trainingProgress } from '../client';
import type { CampaignStatus } from '../contract';
import type { ArtifactStore } from '../store';
import { DEFAULT_OUTAGE_SECONDS, throughOutages } from './wait';

// How `lmsi status`, `run --wait` and `status --watch` show a campaign: the round table, why it failed
// or is held back, and a live progress bar. The demo shows its campaigns the same way, so this is the
// CLI's one module meant for use outside cli/ (the lint rules allow demo/ no other).

const pct = (x: number | null | undefined) =>
  x === null || x === undefined ? '—' : `${(x * 100).toFixed(1)}%`;

/** The documented `status --json` shape. */
export function statusJson(s: CampaignStatus) {
  return {
    campaignId: s.campaignId,
    state: s.state,
    round: s.round,
    step: s.step,
    progress: s.progress,
    rounds: s.rounds.map((r) => ({
      round: r.round,
      greedyAccuracy: r.greedyAccuracy,
      scAccuracy: r.scAccuracy,
      promoted: r.promoted,
      modelRef: r.modelRef,
      selfTrainingSetRef: r.selfTrainingSetRef,
      // The round's whole lineage in the artifact store (null for rounds run before it was recorded).
      resultRef: r.resultRef ?? null,
      // Questions skipped (prompt longer than the model's context) and maxNewTokens clips, when any.
      ...(r.contextWarnings
        ? { skippedQuestions: r.skippedQuestions ?? 0, contextWarnings: r.contextWarnings }
        : {}),
      // Label-free health of the round's sampled paths and of its evaluated model's (method/health.ts).
      ...(r.health ? { health: r.health } : {}),
    })),
    report: s.report ?? null,
    // Stopped before its last round by gate.labelFree: the round and the collapse it saw.
    ...(s.stopped ? { stopped: s.stopped } : {}),
    ...(s.reportError ? { reportError: s.reportError } : {}),
    // Why a failed campaign failed; what holds a running one back (absent when nothing does).
    ...(s.failure ? { failure: s.failure } : {}),
    ...(s.retrying ? { retrying: s.retrying } : {}),
    // Which worker runs each running activity, and when it last heartbeated (absent when none runs).
    ...(s.running ? { running: s.running } : {}),
    ...(s.failingWorkflowTasks ? { failingWorkflowTasks: s.failingWorkflowTasks } : {}),
    ...(s.queryError ? { queryError: s.queryError } : {}),
  };
}

/** A failed campaign's reason and where it failed, as `status` and `run --wait` print it. */
function failureLines(s: CampaignStatus): string[] {
  const f = s.failure;
  if (!f) return [];
  const where = [
    f.round === null ? null : `round ${f.round}`,
    f.step === null ? null : `step ${f.step}`,
    f.activity === null ? null : `activity ${f.activity}`,
  ].filter((x) => x !== null);
  return [
    `failed${where.length > 0 ? ` in ${where.join(', ')}` : ''} (workflow ${f.workflowId}):`,
    `  ${f.type ? `${f.type}: ` : ''}${f.message}`,
  ];
}

/** What holds a running campaign back: activities being retried, workflow tasks that keep failing. */
function troubleLines(s: CampaignStatus): string[] {
  const lines: string[] = [];
  for (const a of s.retrying ?? []) {
    const of = a.maximumAttempts === null ? '' : ` of ${a.maximumAttempts}`;
    const next = a.nextRetry === null ? 'retrying now' : `next retry at ${a.nextRetry}`;
    lines.push(
      `retrying: ${a.activity} (workflow ${a.workflowId}), attempt ${a.attempt}${of}, ${next}`,
      `  last failure: ${a.lastFailure ?? '(none recorded)'}`,
    );
  }
  for (const t of s.failingWorkflowTasks ?? []) {
    lines.push(
      `workflow task failing: workflow ${t.workflowId}, attempt ${t.attempt}: the campaign cannot move`,
      `  last failure: ${t.lastFailure ?? '(none recorded)'}`,
    );
    if (t.likelyCause) lines.push(`  likely cause: ${t.likelyCause}`);
  }
  if (s.queryError) lines.push(`live status unavailable (shown from Temporal's record): ${s.queryError}`);
  return lines;
}

/** What runs now and where: each started activity, its worker and its last heartbeat's age. */
function runningLines(s: CampaignStatus, now = Date.now()): string[] {
  const ago = (iso: string | null) =>
    iso === null
      ? 'no heartbeat yet'
      : `heartbeat ${Math.max(0, Math.round((now - Date.parse(iso)) / 1000))} s ago`;
  return (s.running ?? []).map(
    (a) =>
      `running: ${a.activity} (workflow ${a.workflowId}) on ${a.worker || '(unknown worker)'}, attempt ${a.attempt}, ${ago(a.lastHeartbeat)}`,
  );
}

/** Each round's label-free health: its sampled paths (what it trains on) and its evaluated model's. */
function healthLines(s: CampaignStatus): string[] {
  const rows: string[] = [];
  for (const r of s.rounds) {
    for (const [which, h] of [
      ['sampled', r.health?.sampled],
      ['evaluated', r.health?.evaluated],
    ] as const) {
      if (!h) continue;
      rows.push(
        [
          String(r.round).padEnd(6),
          which.padEnd(10),
          pct(h.meanMajorityShare).padEnd(10),
          h.meanAnswerEntropy.toFixed(2).padEnd(8),
          pct(h.abstentionRate).padEnd(8),
          String(h.medianPathTokens).padEnd(11),
          pct(h.distinctRationaleFraction).padEnd(9),
          pct(h.agreementWithPrevious),
        ].join(' '),
      );
    }
  }
  if (rows.length === 0) return [];
  return [
    "label-free health (from the paths alone; evaluated: the round's model on the evaluation questions, labels unread)",
    'round  paths      maj.share  entropy  abstain  median len  distinct  same majority as before',
    ...rows,
  ];
}

export function statusTable(s: CampaignStatus): string {
  const lines = [
    `campaign ${s.campaignId}: ${s.state}, round ${s.round}, step ${s.step} (${s.progress.done}/${s.progress.total})`,
    '',
    'round  greedy   SC       kept paths  mean conf.  examples  loss    promoted  seconds',
  ];
  for (const r of s.rounds) {
    lines.push(
      [
        String(r.round).padEnd(6),
        pct(r.greedyAccuracy).padEnd(8),
        pct(r.scAccuracy).padEnd(8),
        String(r.keptPaths ?? '—').padEnd(11),
        pct(r.meanKeptConfidence).padEnd(11),
        String(r.trainingExamples ?? '—').padEnd(9),
        (r.finalLoss === null ? '—' : r.finalLoss.toFixed(3)).padEnd(7),
        (r.promoted ? 'yes' : 'no').padEnd(9),
        r.wallSeconds.toFixed(0),
      ].join(' '),
    );
  }
  const context = s.rounds.flatMap((r) => (r.contextWarnings ?? []).map((w) => `round ${r.round}: ${w}`));
  if (context.length > 0) lines.push('', ...context);
  const health = healthLines(s);
  if (health.length > 0) lines.push('', ...health);
  if (s.stopped)
    lines.push(
      '',
      `stopped after round ${s.stopped.round}: ${s.stopped.reason}`,
      `  the best earlier round's model stands: ${s.bestModelRef ?? '—'}`,
    );
  const why = [...failureLines(s), ...troubleLines(s)];
  const running = runningLines(s);
  if (running.length > 0) lines.push('', ...running);
  if (why.length > 0) lines.push('', ...why);
  if (s.report) lines.push('', `report: ${s.report.treeRef} (report.json ${s.report.jsonRef})`);
  if (s.reportError) lines.push('', `report failed: ${s.reportError} (make one with lmsi report)`);
  return lines.join('\n');
}

/**
 * The running step's progress: the round workflow counts its train (and distill) step as one unit,
 * so there the fine-tuning activity's last heartbeat gives the trainer's steps and loss instead.
 */
export async function stepProgress(
  client: Parameters<typeof campaignStatus>[0],
  s: CampaignStatus,
): Promise<{ progress: CampaignStatus['progress']; loss: number | null }> {
  if (s.state !== 'running' || (s.step !== 'train' && s.step !== 'distill'))
    return { progress: s.progress, loss: null };
  const t = await trainingProgress(client, s.campaignId, s.round);
  return t === null
    ? { progress: s.progress, loss: null }
    : { progress: { done: t.step, total: t.totalSteps }, loss: t.loss };
}

/**
 * Follows a campaign with a progress bar until it closes; returns its final status. A Temporal
 * outage (a server restart) is waited out for up to `outageMs` (cli/wait.ts), then GaveUpWaiting.
 */
export async function watchCampaign(
  client: Parameters<typeof campaignStatus>[0],
  campaignId: string,
  intervalMs = 1000,
  store?: ArtifactStore,
  outageMs = DEFAULT_OUTAGE_SECONDS * 1000,
): Promise<CampaignStatus> {
  const bar = new SingleBar(
    {
      format: ' {label} |{bar}| {value}/{total}{detail}',
      hideCursor: true,
      noTTYOutput: true,
      notTTYSchedule: 10_000,
    },
    Presets.shades_classic,
  );
  let started = false;
  let troubleShown = '';
  let seen = false;
  const outages = {
    outageMs,
    // A restarted server may not know its workflows for a moment: a campaign already seen is
    // waited for, not reported missing.
    alsoTransient: (e: unknown) => seen && e instanceof WorkflowNotFoundError,
  };
  try {
    for (;;) {
      const s = await throughOutages(() => campaignStatus(client, campaignId, { store }), outages);
      seen = true;
      if (!['running', 'paused'].includes(s.state)) return s;
      // A retry or a failing workflow task is told once per attempt (per failure for workflow
      // tasks, which retry every few seconds), so a stuck campaign does not look healthy.
      const trouble = JSON.stringify([
        (s.retrying ?? []).map((a) => [a.workflowId, a.activityId, a.attempt]),
        (s.failingWorkflowTasks ?? []).map((t) => [t.workflowId, t.lastFailure]),
      ]);
      if (trouble !== troubleShown) {
        troubleShown = trouble;
        const lines = troubleLines(s);
        if (lines.length > 0) process.stderr.write(`\n${lines.join('\n')}\n`);
      }
      const { progress, loss } = await throughOutages(() => stepProgress(client, s), outages);
      const payload = {
        label: `round ${s.round} ${s.step}${s.state === 'paused' ? ' (paused)' : ''}`,
        detail: loss === null ? '' : ` steps, loss ${loss.toFixed(3)}`,
      };
      if (!started) {
        bar.start(progress.total, progress.done, payload);
        started = true;
      } else {
        if (progress.total !== bar.getTotal()) bar.setTotal(progress.total);
        bar.update(progress.done, payload);
      }
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  } finally {
    if (started) bar.stop();
  }
}

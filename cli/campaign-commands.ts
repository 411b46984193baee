import { InvalidArgumentError, type Command } from 'commander';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { SingleBar, Presets } from 'cli-progress';
import {
  campaignStatus,
  cancelCampaign,
  clearPayloadsWarning,
  connectClient,
  listCampaigns,
  pauseCampaign,
  resolveConfigPaths,
  resumeCampaign,
  startCampaign,
  trainingProgress,
} from '../client';
import { loadCampaignConfig } from '../config';
import { runPreflight } from './config-commands';
import { LocalArtifactStore, type ArtifactStore } from '../store';
import type { CampaignStatus } from '../contract';
import { campaignSource, withCampaignSourceOptions, type CampaignSourceOptions } from './report-commands';
import { fromTemporalOrStore } from './offline';
import { withClient, withTemporalOptions, type TemporalOptions } from './temporal-options';
import { DEFAULT_OUTAGE_SECONDS, EXIT_GAVE_UP, exitCodeOf, GaveUpWaiting, throughOutages } from './wait';

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
    })),
    report: s.report ?? null,
    ...(s.reportError ? { reportError: s.reportError } : {}),
    // Why a failed campaign failed; what holds a running one back (absent when nothing does).
    ...(s.failure ? { failure: s.failure } : {}),
    ...(s.retrying ? { retrying: s.retrying } : {}),
    ...(s.failingWorkflowTasks ? { failingWorkflowTasks: s.failingWorkflowTasks } : {}),
    ...(s.queryError ? { queryError: s.queryError } : {}),
  };
}

/** A failed campaign's reason and where it failed, as `status` and `run --wait` print it. */
export function failureLines(s: CampaignStatus): string[] {
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
export function troubleLines(s: CampaignStatus): string[] {
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
  const why = [...failureLines(s), ...troubleLines(s)];
  if (why.length > 0) lines.push('', ...why);
  if (s.report) lines.push('', `report: ${s.report.treeRef} (report.json ${s.report.jsonRef})`);
  if (s.reportError) lines.push('', `report failed: ${s.reportError} (make one with lmsi report)`);
  return lines.join('\n');
}

/**
 * The running step's progress: the round workflow counts its train (and distill) step as one unit,
 * so there the fine-tuning activity's last heartbeat gives the trainer's steps and loss instead.
 */
async function stepProgress(
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

/** --outage-timeout: how long `run --wait` and `status --watch` wait out an unreachable Temporal. */
const outageOption = [
  '--outage-timeout <seconds>',
  'keep reconnecting through a Temporal outage this long before giving up (exit 3)',
  (v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('a number of seconds > 0');
    return n;
  },
  DEFAULT_OUTAGE_SECONDS,
] as const;

/** A wait that gave up: exit 3, the campaign's outcome unknown (other errors go to cli/main.ts). */
function gaveUp(e: unknown): void {
  if (!(e instanceof GaveUpWaiting)) throw e;
  process.stderr.write(`lmsi: ${e.message}\n`);
  process.exitCode = EXIT_GAVE_UP;
}

export function registerCampaignCommands(program: Command): void {
  withTemporalOptions(
    program
      .command('run')
      .description('start a self-improvement campaign from a config file')
      .requiredOption('-c, --config <file>', 'campaign config (lmsi.config.json)')
      .option('--id <campaignId>', 'campaign id (default: the config name)')
      .option(
        '--new-id',
        'when the id is taken (a running or completed campaign, or one with an audit trail), take the next free <id>-<n>',
      )
      .option(
        '--wait',
        'follow it with progress bars until it finishes; exit 0 completed, 1 failed, 3 gave up',
      )
      .option(...outageOption),
  ).action(
    async (
      opts: TemporalOptions & {
        config: string;
        id?: string;
        newId?: boolean;
        wait?: boolean;
        outageTimeout: number;
      },
    ) => {
      const config = resolveConfigPaths(loadCampaignConfig(opts.config), opts.config);
      // The model and the prompts against its context, before any workflow starts (where visible).
      await runPreflight(config, false);
      const target = {
        address: opts.address ?? config.temporal.address,
        namespace: opts.namespace ?? config.temporal.namespace,
        profile: opts.profile,
      };
      const clear = clearPayloadsWarning(target);
      if (clear) process.stderr.write(`lmsi: ${clear}\n`);
      await withClient(target, async (client) => {
        const handle = await startCampaign(client, config, {
          campaignId: opts.id,
          store: new LocalArtifactStore(config.artifacts.dir),
          newId: opts.newId,
        });
        process.stdout.write(`started campaign ${handle.workflowId}\n`);
        if (!opts.wait) return;
        const final = await watchCampaign(
          client,
          handle.workflowId,
          1000,
          undefined,
          opts.outageTimeout * 1000,
        );
        process.stdout.write(`${statusTable(final)}\n`);
        process.exitCode = exitCodeOf(final);
      }).catch(gaveUp);
    },
  );

  // -c/--config or --artifacts as report and audit take them: once Temporal has deleted the campaign
  // workflow, its status comes from the campaign index in the artifact store.
  withCampaignSourceOptions(
    program
      .command('status')
      .description("a campaign's state, round, step, progress and per-round metrics")
      .argument('<campaignId>')
      .option('--json', 'print JSON')
      .option(
        '--watch',
        'follow it with a progress bar until it finishes; exit 0 completed, 1 failed, 3 gave up',
      )
      .option(...outageOption),
  ).action(
    async (
      campaignId: string,
      opts: CampaignSourceOptions & { json?: boolean; watch?: boolean; outageTimeout: number },
    ) => {
      const { store, target } = campaignSource(opts);
      const outageMs = opts.outageTimeout * 1000;
      // Watching rides out a server that is down when it starts, as it does one that goes down later.
      const connect = opts.watch
        ? (fn: (client: Client) => Promise<void>) =>
            throughOutages(() => connectClient(target), { outageMs }).then(async (client) => {
              try {
                return await fn(client);
              } finally {
                await client.connection.close();
              }
            })
        : (fn: (client: Client) => Promise<void>) =>
            // A finished campaign's status needs no server: its index in the store has it.
            fromTemporalOrStore(target, store, campaignId, fn, (stored) => {
              const s = stored.status;
              process.stdout.write(
                opts.json ? `${JSON.stringify(statusJson(s), null, 2)}\n` : `${statusTable(s)}\n`,
              );
            });
      await connect(async (client) => {
        const s = await (
          opts.watch
            ? watchCampaign(client, campaignId, 1000, store, outageMs)
            : campaignStatus(client, campaignId, { store })
        ).catch((e: unknown) => {
          if (!(e instanceof WorkflowNotFoundError)) throw e;
          throw new Error(
            `campaign ${campaignId} not found: Temporal has no such workflow and the artifact store ${store.root} has no index of it (--config or --artifacts names the store)`,
          );
        });
        const shown = opts.watch ? s : { ...s, progress: (await stepProgress(client, s)).progress };
        process.stdout.write(
          opts.json ? `${JSON.stringify(statusJson(shown), null, 2)}\n` : `${statusTable(shown)}\n`,
        );
        if (opts.watch) process.exitCode = exitCodeOf(s);
      }).catch(gaveUp);
    },
  );

  for (const [name, description, action] of [
    ['pause', 'pause a campaign between activities', pauseCampaign],
    ['resume', 'resume a paused campaign', resumeCampaign],
    ['cancel', 'cancel a campaign (its running activity is cancelled cleanly)', cancelCampaign],
  ] as const) {
    withTemporalOptions(program.command(name).description(description).argument('<campaignId>')).action(
      async (campaignId: string, opts: TemporalOptions) => {
        await withClient(opts, (client) => action(client, campaignId));
        process.stdout.write(`${name}: ${campaignId}\n`);
      },
    );
  }

  withTemporalOptions(program.command('list').description('list campaigns')).action(
    async (opts: TemporalOptions) => {
      await withClient(opts, async (client) => {
        for (const c of await listCampaigns(client)) {
          process.stdout.write(`${c.campaignId}\t${c.status}\t${c.startTime.toISOString()}\n`);
        }
      });
    },
  );
}

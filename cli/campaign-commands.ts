import { InvalidArgumentError, type Command } from 'commander';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
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
} from '../client';
import { loadCampaignConfig } from '../config';
import { runPreflight } from './config-commands';
import { createArtifactStore } from '../store/factory';
import { campaignSource, withCampaignSourceOptions, type CampaignSourceOptions } from './report-commands';
import { fromTemporalOrStore } from './offline';
import { statusJson, statusTable, stepProgress, watchCampaign } from './status-view';
import { withClient, withTemporalOptions, type TemporalOptions } from './temporal-options';
import { DEFAULT_OUTAGE_SECONDS, EXIT_GAVE_UP, exitCodeOf, GaveUpWaiting, throughOutages } from './wait';

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
          store: createArtifactStore(config.artifacts),
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
            `campaign ${campaignId} not found: Temporal has no such workflow and the artifact store ${store.location} has no index of it (--config or --artifacts names the store)`,
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

  withTemporalOptions(
    program
      .command('list')
      .description('list campaigns, newest first, filtered by their search attributes')
      .option('--status <status>', 'Running | Completed | Failed | Canceled | Terminated | TimedOut')
      .option('--step <step>', 'at (or ended at) this step: evaluate, sample, vote, train, ...')
      .option('--min-accuracy <x>', 'best greedy accuracy so far at least x (0..1)', Number.parseFloat)
      .option('--query <query>', "any further visibility query, ANDed (e.g. 'LmsiRound >= 2')")
      .option('--json', 'print JSON'),
  ).action(
    async (
      opts: TemporalOptions & {
        status?: string;
        step?: string;
        minAccuracy?: number;
        query?: string;
        json?: boolean;
      },
    ) => {
      await withClient(opts, async (client) => {
        const campaigns = await listCampaigns(client, {
          status: opts.status,
          step: opts.step,
          minBestAccuracy: opts.minAccuracy,
          query: opts.query,
        });
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(campaigns, null, 2)}\n`);
          return;
        }
        for (const c of campaigns) {
          const best = c.bestGreedyAccuracy === null ? '—' : `${(c.bestGreedyAccuracy * 100).toFixed(1)}%`;
          process.stdout.write(
            `${c.campaignId}\t${c.status}\tround ${c.round ?? '—'}\t${c.step ?? '—'}\tbest ${best}\t${c.startTime.toISOString()}\n`,
          );
        }
      });
    },
  );
}

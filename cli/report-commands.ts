import * as path from 'node:path';
import type { Command } from 'commander';
import { finishedRounds } from '../client';
import { loadCampaignConfig, type CampaignConfig } from '../config';
import { buildReport, writeReport } from '../report';
import type { ArtifactStore } from '../store';
import { createArtifactStore } from '../store/factory';
import { fromTemporalOrStore } from './offline';
import { withTemporalOptions, type TemporalOptions } from './temporal-options';

export interface CampaignSourceOptions extends TemporalOptions {
  config?: string;
  artifacts: string;
}

/** -c/--config and --artifacts: where a campaign's artifacts are (and its Temporal target). */
export function withCampaignSourceOptions(cmd: Command): Command {
  return withTemporalOptions(
    cmd
      .option('-c, --config <file>', 'the campaign config (artifact dir, Temporal target, task)')
      .option('--artifacts <dir>', 'artifact store root, when no --config names it', '.state/artifacts'),
  );
}

/** The campaign's config (if given), its artifact store and the Temporal target to read it from. */
export function campaignSource(opts: CampaignSourceOptions): {
  config: CampaignConfig | undefined;
  store: ArtifactStore;
  target: TemporalOptions;
} {
  const config = opts.config ? loadCampaignConfig(opts.config) : undefined;
  const artifactsDir = config
    ? path.resolve(path.dirname(opts.config!), config.artifacts.dir)
    : opts.artifacts;
  return {
    config,
    // The campaign's store: its folder, or its S3 bucket with this folder as the local cache.
    store: createArtifactStore({
      dir: artifactsDir,
      ...(config?.artifacts.s3 ? { s3: config.artifacts.s3 } : {}),
    }),
    target: {
      address: opts.address ?? config?.temporal.address,
      namespace: opts.namespace ?? config?.temporal.namespace,
      profile: opts.profile,
    },
  };
}

export function registerReportCommands(program: Command): void {
  withCampaignSourceOptions(
    program
      .command('report')
      .description("write a campaign's report.json and report.html (self-contained, opens offline)")
      .argument('<campaignId>', 'the campaign (its workflow id)')
      .option('-o, --out <dir>', 'output folder (default: reports/<campaignId>)'),
  ).action(async (campaignId: string, opts: CampaignSourceOptions & { out?: string }) => {
    const { store, target } = campaignSource(opts);
    const out = opts.out ?? path.join('reports', campaignId.replace(/[^A-Za-z0-9._-]/g, '_'));
    const rounds = await fromTemporalOrStore(
      target,
      store,
      campaignId,
      (client) => finishedRounds(client, campaignId, { store }),
      (stored) => stored.rounds,
    );
    if (rounds.length === 0) throw new Error(`campaign ${campaignId} has no finished round yet`);
    const report = await buildReport({ campaignId, rounds: rounds.map((r) => r.result), store });
    const written = await writeReport(out, report, {
      onWarning: (chart, message) => process.stderr.write(`lmsi report: chart ${chart}: ${message}\n`),
    });
    process.stdout.write(`${written.html}\n${written.json}\n`);
  });
}

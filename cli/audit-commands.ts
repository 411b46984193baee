import { InvalidArgumentError, type Command } from 'commander';
import { finishedRounds } from '../client';
import type { TaskName } from '../method/types';
import { isTaskName } from '../method/tasks';
import {
  auditQuestion,
  auditRound,
  formatQuestionAudit,
  formatRoundAudit,
  type AuditedRound,
} from '../report';
import { campaignSource, withCampaignSourceOptions, type CampaignSourceOptions } from './report-commands';
import { fromTemporalOrStore } from './offline';

function roundNumber(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('a round number (0, 1, 2, ...)');
  return n;
}

function taskName(v: string): TaskName {
  if (!isTaskName(v)) throw new InvalidArgumentError(`a task name, not "${v}"`);
  return v;
}

export function registerAuditCommands(program: Command): void {
  withCampaignSourceOptions(
    program
      .command('audit')
      .description(
        "a round's lineage (models, datasets, config, sampling, votes, filter, loss, metrics, gate), or one question's paths, answers, vote and what was kept",
      )
      .argument('<campaignId>', 'the campaign (its workflow id)')
      .option('-r, --round <n>', 'the round (default: the last finished one)', roundNumber)
      .option(
        '-q, --question <id>',
        "one question's sampled paths, their answers, the vote and what was kept",
      )
      .option(
        '-t, --task <name>',
        "the task that reads answers (default: the round's, else --config's)",
        taskName,
      )
      .option('--json', 'print JSON'),
  ).action(
    async (
      campaignId: string,
      opts: CampaignSourceOptions & { round?: number; question?: string; task?: TaskName; json?: boolean },
    ) => {
      const { config, store, target } = campaignSource(opts);
      const rounds = await fromTemporalOrStore(
        target,
        store,
        campaignId,
        (client) => finishedRounds(client, campaignId, { store }),
        (stored) => stored.rounds,
      );
      if (rounds.length === 0) throw new Error(`campaign ${campaignId} has no finished round yet`);
      const picked =
        opts.round === undefined
          ? rounds[rounds.length - 1]
          : rounds.find((r) => r.result.round === opts.round);
      if (!picked) {
        throw new Error(
          `campaign ${campaignId} has no finished round ${opts.round} (finished: ${rounds.map((r) => r.result.round).join(', ')})`,
        );
      }
      const result: AuditedRound = picked.result;
      const ctx = { campaignId, store, config, task: opts.task ? { name: opts.task } : undefined };
      if (opts.question !== undefined) {
        const audit = await auditQuestion(result, opts.question, ctx);
        process.stdout.write(opts.json ? `${JSON.stringify(audit, null, 2)}\n` : formatQuestionAudit(audit));
      } else {
        const audit = await auditRound(result, ctx);
        process.stdout.write(opts.json ? `${JSON.stringify(audit, null, 2)}\n` : formatRoundAudit(audit));
      }
    },
  );
}

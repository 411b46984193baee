import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType, type ReportArtifacts, type RoundResult, type WriteReportInput } from '../contract';
import {
  buildReport,
  RoundNotRecordedError,
  roundResultOf,
  writeReport as writeReportFiles,
} from '../report';
import { indexableCampaignId, indexReport } from '../report/campaign-index';
import type { ActivityDeps } from './deps';
import { failingClearly } from './failures';

/**
 * Writes the campaign's report.json and report.html into the artifact store. The rounds' results are
 * read from their records in the store (the campaign carries only one-line summaries and the records'
 * refs across continueAsNew; the round workflows may be gone by the end of a long campaign). The
 * report is dated by the last round's end rather than the clock, so a retry stores identical bytes
 * under identical refs.
 */
export function makeWriteReport({ store }: ActivityDeps) {
  return async function writeReport(input: WriteReportInput): Promise<ReportArtifacts> {
    return failingClearly(async () => {
      const rounds: RoundResult[] = [];
      for (const [round, workflowId] of input.roundWorkflowIds.entries()) {
        const resultRef = input.roundResultRefs?.[round] ?? null;
        try {
          rounds.push(
            await roundResultOf({ round, workflowId, resultRef }, { campaignId: input.campaignId, store }),
          );
        } catch (e) {
          // No retry can make a record that was never written.
          if (!(e instanceof RoundNotRecordedError)) throw e;
          throw ApplicationFailure.create({
            type: FailureType.RoundNotRecorded,
            nonRetryable: true,
            message: e.message,
          });
        }
      }
      const last = rounds[rounds.length - 1];
      const report = await buildReport({
        campaignId: input.campaignId,
        rounds,
        store,
        generatedAt: last?.finishedAt,
        stopped: input.stopped,
      });
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lmsi-report-'));
      try {
        const log = Context.current().log;
        const files = await writeReportFiles(dir, report, {
          onWarning: (chart, message) => log.warn(`report chart ${chart}: ${message}`),
        });
        const [json, html, tree] = await Promise.all([
          store.putFile(files.json),
          store.putFile(files.html),
          store.putTree(dir),
        ]);
        const artifacts = { treeRef: tree.ref, jsonRef: json.ref, htmlRef: html.ref, rounds: rounds.length };
        // The campaign index keeps the report's refs for readers once the campaign workflow is gone.
        if (indexableCampaignId(input.campaignId)) {
          await indexReport(store, input.campaignId, artifacts, last?.finishedAt ?? null, input.stopped);
        }
        return artifacts;
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
    });
  };
}

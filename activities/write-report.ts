import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Context } from '@temporalio/activity';
import { buildReport, roundResultOf, writeReport as writeReportFiles } from '../report';
import { indexableCampaignId, indexReport } from '../report/campaign-index';
import type { CampaignStop } from '../report/types';
import type { RoundResult } from '../workflows/types';
import type { ActivityDeps } from './deps';
import { failingClearly } from './failures';
import { finishedRoundResult } from './record-round';

export interface WriteReportInput {
  campaignId: string;
  /** The campaign's finished round workflows (`<campaignId>/round-<n>`), in order. */
  roundWorkflowIds: string[];
  /**
   * Each round's stored record (activities/record-round.ts), parallel to roundWorkflowIds; null for a
   * round run before rounds were recorded. Absent in reports scheduled before the records existed.
   */
  roundResultRefs?: (string | null)[];
  /** The campaign stops before its last round (a round kept too few paths): why, in the report. */
  stopped?: CampaignStop;
}

/** A campaign's report as artifacts: the page, its data, and a tree of both (materialise to a folder). */
export interface ReportArtifacts {
  treeRef: string;
  jsonRef: string;
  htmlRef: string;
  rounds: number;
}

/**
 * Writes the campaign's report.json and report.html into the artifact store. The rounds' results are
 * read from their records in the store (the campaign carries only one-line summaries and the records'
 * refs across continueAsNew; the round workflows may be gone by the end of a long campaign), or from
 * the round workflows for rounds run before they were recorded. The report is dated by the last
 * round's end rather than the clock, so a retry stores identical bytes under identical refs.
 */
export function makeWriteReport({ store }: ActivityDeps) {
  return async function writeReport(input: WriteReportInput): Promise<ReportArtifacts> {
    return failingClearly(async () => {
      const rounds: RoundResult[] = [];
      const fromWorkflow = finishedRoundResult;
      for (const [round, workflowId] of input.roundWorkflowIds.entries()) {
        const resultRef = input.roundResultRefs?.[round] ?? null;
        rounds.push(
          await roundResultOf(
            { round, workflowId, resultRef },
            { campaignId: input.campaignId, store, fromWorkflow },
          ),
        );
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

// Campaign reports (report.json + a self-contained report.html) and the audit trail of a round.
export * from './types';
export { buildReport, type BuildReportInput } from './build';
export { renderReportHtml, type RenderOptions } from './html';
export { writeReport } from './write';
export {
  auditQuestion,
  auditRound,
  roundTask,
  type AuditContext,
  type AuditedPath,
  type AuditedRound,
  type QuestionAudit,
  type RoundAudit,
} from './audit';
export { formatQuestionAudit, formatRoundAudit } from './audit-text';
export {
  readRoundRecord,
  roundRecord,
  roundResultOf,
  RoundNotRecordedError,
  type RoundSource,
} from './round-record';
export {
  indexReport,
  indexRound,
  indexableCampaignId,
  readCampaignIndex,
  type CampaignIndex,
} from './campaign-index';

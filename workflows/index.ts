// Every workflow the lmsi workers run (this file is the worker's workflowsPath).
export { snapshotDatasetWorkflow } from './snapshot-dataset';
export { selfImprovementRound } from './round';
export { selfImprovementCampaign } from './campaign';

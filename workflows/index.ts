// Every workflow the lmsi workers run (this file is the worker's workflowsPath).
export { snapshotDatasetWorkflow } from './snapshot-dataset';

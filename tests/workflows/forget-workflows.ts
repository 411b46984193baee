import { isGrpcServiceError, WorkflowNotFoundError, type Client } from '@temporalio/client';

/** gRPC status NOT_FOUND (@grpc/grpc-js is not a direct dependency). */
const GRPC_NOT_FOUND = 5;

/**
 * Deletes workflows as the namespace's retention does once they have been closed long enough, and
 * waits until the server no longer knows them (deletion is asynchronous).
 */
export async function forgetWorkflows(
  client: Client,
  workflowIds: string[],
  timeoutMs = 120_000,
): Promise<void> {
  const namespace = client.options.namespace;
  for (const workflowId of workflowIds) {
    try {
      await client.workflowService.deleteWorkflowExecution({ namespace, workflowExecution: { workflowId } });
    } catch (e) {
      // Already deleted (e.g. by an earlier attempt of the caller).
      if (!(isGrpcServiceError(e) && Number(e.code) === GRPC_NOT_FOUND)) throw e;
    }
  }
  const end = Date.now() + timeoutMs;
  for (const workflowId of workflowIds) {
    for (;;) {
      try {
        await client.workflow.getHandle(workflowId).describe();
      } catch (e) {
        if (e instanceof WorkflowNotFoundError) break;
        throw e;
      }
      if (Date.now() > end) throw new Error(`${workflowId} was not deleted within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/**
 * Deletes every run of a workflow (a campaign continues as new after each round, and retention
 * deletes each closed run), then waits until the server no longer knows the workflow id.
 */
export async function forgetAllRuns(client: Client, workflowId: string, timeoutMs = 120_000): Promise<void> {
  const namespace = client.options.namespace;
  const runIds: string[] = [];
  for await (const w of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runIds.push(w.runId);
  for (const runId of runIds) {
    try {
      await client.workflowService.deleteWorkflowExecution({
        namespace,
        workflowExecution: { workflowId, runId },
      });
    } catch (e) {
      if (!(isGrpcServiceError(e) && Number(e.code) === GRPC_NOT_FOUND)) throw e;
    }
  }
  await forgetWorkflows(client, [workflowId], timeoutMs);
}

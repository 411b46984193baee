import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import { NativeConnection } from '@temporalio/worker';
import { finishedRounds, listCampaigns, startCampaign } from '../../client';
import type { CampaignConfig } from '../../config/campaign';
import { LocalArtifactStore } from '../../store';
import { testCampaignConfig } from '../../testing/campaign-config';
import { datasetIds, sampledQuestionIds, smallSplits } from '../../testing/fault-campaign';
import { temporalCluster, type TemporalCluster } from '../../testing/temporal-cluster';
import { pretrainedTinyModel } from '../../testing/tiny-model';
import { createLmsiWorker } from '../../workers';
import { lmsiSearchAttributeKeys } from '../../workflows/search-attributes';
import { withWorkers } from '../helpers/campaign';
import { quietTestRuntime, tempDir, workflowBundle } from '../helpers/temporal';

// The Temporal server a deployment runs (built from go.temporal.io/server by
// infra/temporal/cluster/install, its data in PostgreSQL), started by the project's own script on free
// ports in a temporary state folder: nothing in lmsi may depend on what only the dev server provides.
const run = promisify(execFile);
const root = path.resolve(__dirname, '../..');
const namespace = 'lmsi-cluster-test';

let scratch: string;
let cluster: TemporalCluster;
let startOutput: string;
let connection: Connection;
let client: Client;
let config: CampaignConfig;

const connect = async () => {
  connection = await Connection.connect({ address: cluster.address });
  client = new Client({ connection, namespace });
};

beforeAll(async () => {
  scratch = await tempDir('temporal-cluster');
  // Its own temp folder, straight under the OS's: as root, PostgreSQL runs as the postgres OS user,
  // which must be able to enter every folder above its data (the helper opens this one to it).
  cluster = await temporalCluster(await tempDir('temporal-cluster-state'), { namespace, retention: '3d' });
  startOutput = await cluster.start();
  await connect();
}, 300_000);

afterAll(async () => {
  await connection?.close();
  await cluster?.wipe();
  if (scratch) await fs.rm(scratch, { recursive: true, force: true });
  // stop --wipe removes what start made and then the folder itself once empty.
  if (cluster) await fs.rm(cluster.stateDir, { recursive: true, force: true });
}, 120_000);

/** A query on one of the server's databases, through PostgreSQL's own client and the cluster's password. */
async function sql(database: string, query: string): Promise<string> {
  const script = `source "$1/infra/temporal/cluster/env.sh"; source "$2/ports.env"
    PGPASSWORD=$(cat "$2/db.password") "$(pg_bin_dir)/psql" -h 127.0.0.1 -p "$PG_PORT" -U temporal -d "$3" -At -c "$4"`;
  const args = ['-c', script, 'sql', root, cluster.stateDir, database, query];
  const { stdout } = await run('bash', args, { timeout: 30_000 });
  return stdout.trim();
}

/** The newest version among the server's versioned schema folders (v1.0 ... v1.18). */
function newestSchemaVersion(kind: 'temporal' | 'visibility'): string {
  const dir = path.join(root, '.tools/share/temporal-server/schema/postgresql/v12', kind, 'versioned');
  const versions = readdirSync(dir).map((v) => v.replace(/^v/, ''));
  const key = (v: string) => v.split('.').map(Number);
  versions.sort((a, b) => key(a)[0] - key(b)[0] || key(a)[1] - key(b)[1]);
  return versions[versions.length - 1];
}

describe('infra/temporal/cluster/install', () => {
  it('skips when the pinned server is present and fails clearly when Go is missing', async () => {
    const install = path.join(root, 'infra/temporal/cluster/install');
    const { stdout } = await run('bash', [install], { timeout: 60_000 });
    expect(stdout).toMatch(/Temporal server already installed: .*\(go:v1\.29\.1\), PostgreSQL in /);

    const tools = await tempDir('tools');
    const noGo = await run('bash', [install], {
      env: { PATH: '/usr/bin:/bin', HOME: scratch, LMSI_TOOLS_DIR: tools },
    }).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    await fs.rm(tools, { recursive: true, force: true });
    expect(noGo?.code).toBe(1);
    expect(noGo?.stderr).toContain('error: Go is not installed');
    expect(noGo?.stderr).toContain('https://go.dev/dl/');
  });
});

describe('infra/temporal/cluster: Temporal on PostgreSQL', () => {
  it('starts once, says where, and a second start leaves the running cluster alone', async () => {
    expect(startOutput).toContain(`gRPC:       ${cluster.address}`);
    expect(startOutput).toContain(`namespace:  ${namespace} (retention 3d)`);
    expect(await cluster.start()).toContain('already running');
  });

  it('keeps its data in PostgreSQL, with both schemas at the versions the SQL tool brought them to', async () => {
    expect(await sql('temporal', 'SELECT curr_version FROM schema_version')).toBe(
      newestSchemaVersion('temporal'),
    );
    expect(await sql('temporal_visibility', 'SELECT curr_version FROM schema_version')).toBe(
      newestSchemaVersion('visibility'),
    );
    expect(await sql('temporal', `SELECT count(*) FROM namespaces WHERE name = '${namespace}'`)).toBe('1');
  });

  it('registers the namespace with the retention period asked for', async () => {
    const { config: nsConfig } = await connection.workflowService.describeNamespace({ namespace });
    expect(String(nsConfig!.workflowExecutionRetentionTtl!.seconds)).toBe(String(3 * 24 * 3600));
  });

  it("registers lmsi's search attributes with their types", async () => {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
    const typeName = (t: proto.api.enums.v1.IndexedValueType) => proto.api.enums.v1.IndexedValueType[t];
    expect(Object.fromEntries(Object.entries(customAttributes).map(([k, t]) => [k, typeName(t)]))).toEqual(
      Object.fromEntries(lmsiSearchAttributeKeys.map((k) => [k.name, `INDEXED_VALUE_TYPE_${k.type}`])),
    );
  });

  it('runs a one-round campaign of the tiny model to completion', async () => {
    quietTestRuntime();
    const base = await pretrainedTinyModel();
    const dataDir = await smallSplits(base, path.join(scratch, 'data'), { unlabeled: 16, eval: 8 });
    config = testCampaignConfig({
      name: `cluster-${Date.now()}`,
      modelDir: base.modelDir,
      dataDir,
      artifactsDir: path.join(scratch, 'artifacts'),
      extra: { rounds: 1 },
    });
    const nativeConnection = await NativeConnection.connect({ address: cluster.address });
    try {
      const common = {
        connection: nativeConnection,
        namespace,
        artifactsDir: config.artifacts.dir,
        threads: 2,
      };
      const workers = await Promise.all([
        createLmsiWorker({
          ...common,
          role: 'light',
          taskQueue: config.temporal.taskQueues.light,
          workflowBundle: await workflowBundle(),
        }),
        createLmsiWorker({
          ...common,
          role: 'accelerator',
          taskQueue: config.temporal.taskQueues.accelerator,
        }),
      ]);
      await withWorkers(workers, async () => (await startCampaign(client, config)).result());
    } finally {
      await nativeConnection.close();
    }
    const store = new LocalArtifactStore(config.artifacts.dir);
    const rounds = (await finishedRounds(client, config.name, { store })).map((r) => r.result);
    expect(rounds.map((r) => r.round)).toEqual([0, 1]);
    const r1 = rounds[1];
    // Every unlabeled question sampled exactly once, and the round trained on its vote.
    const sampled = await sampledQuestionIds(config.artifacts.dir, r1);
    expect(sampled.sort()).toEqual((await datasetIds(config.artifacts.dir, r1.datasetRef!)).sort());
    expect(sampled).toHaveLength(16);
    expect(r1.trainingSet).toBeDefined();
    expect(r1.modelOut).toBeDefined();
    expect(r1.evaluation.summary).toBeDefined();
    // The search attributes the workflows set, read back through SQL visibility (what `lmsi list` does).
    const listed = await listCampaigns(client, { status: 'Completed' });
    expect(listed.find((c) => c.campaignId === config.name)).toMatchObject({ status: 'COMPLETED', round: 1 });
  }, 600_000);

  it('comes back after a crash (server SIGKILLed, PostgreSQL stopped at once) with the campaign kept', async () => {
    await connection.close();
    await cluster.kill();
    expect(await cluster.start()).toContain('Temporal cluster running');
    await connect();
    const description = await client.workflow.getHandle(config.name).describe();
    expect(description.status.name).toBe('COMPLETED');
    expect((await listCampaigns(client, { status: 'Completed' })).map((c) => c.campaignId)).toContain(
      config.name,
    );
  }, 300_000);
});

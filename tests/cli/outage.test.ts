import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { campaignStatus, pauseCampaign, resumeCampaign } from '../../client';
import type { CampaignConfig } from '../../config/campaign';
import { tempDir, testServerAddress } from '../helpers/temporal';
import { pretrainedTinyModel } from '../../testing/tiny-model';
import { devServer, type DevServer } from '../../testing/dev-server';
import { faultCampaignConfig, smallSplits } from '../../testing/fault-campaign';
import { waitFor } from '../reliability/probe';
import { startWorkerProcess, writeWorkflowBundle, type WorkerProcess } from '../../testing/worker-process';
import { collect, runLmsi, spawnLmsi, type CliRun } from './process';

/**
 * `run --wait` and `status --watch` ride out a Temporal server restart and exit with the campaign's
 * outcome; with the server gone for good they give up with exit 3; and a finished campaign's
 * status, report and audit then work from the artifact store alone (issue 19, items 3 and 5). A dev
 * server of its own (SIGKILLed and restarted on its SQLite file), a worker process, the real CLI.
 */
let dir: string;
let server: DevServer;
let worker: WorkerProcess | undefined;
let config: CampaignConfig;
let configFile: string;

const lmsi = (...args: string[]) => runLmsi(args, dir, 300_000);
const expectOk = (run: CliRun) => {
  if (run.code !== 0) throw new Error(`exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
};

beforeAll(async () => {
  const base = await pretrainedTinyModel();
  dir = await tempDir('outage');
  server = await devServer(path.join(dir, 'server-state'));
  await server.start();
  const dataDir = await smallSplits(base, path.join(dir, 'data'), { unlabeled: 16, eval: 12 });
  config = faultCampaignConfig(dataDir, base.modelDir, 'outage', path.join(dir, 'artifacts'));
  config = { ...config, temporal: { ...config.temporal, address: server.address } };
  configFile = path.join(dir, 'campaign.json');
  await fs.writeFile(configFile, JSON.stringify(config, null, 2));
  worker = await startWorkerProcess({
    address: server.address,
    lightQueue: config.temporal.taskQueues.light,
    acceleratorQueue: config.temporal.taskQueues.accelerator,
    artifactsDir: config.artifacts.dir,
    workflowCodePath: await writeWorkflowBundle(dir),
    logFile: path.join(dir, 'worker.log'),
  });
}, 300_000);

afterAll(async () => {
  await worker?.kill();
  await server.stop();
});

describe('waiting on a campaign through a Temporal outage', () => {
  it('run --wait and status --watch ride out a server restart and exit 0 when the campaign completes', async () => {
    const run = spawnLmsi(['run', '--config', configFile, '--wait', '--outage-timeout', '120'], dir);
    const runExit = collect(run, 200_000, 'lmsi run --wait');
    const connection = await Connection.connect({ address: server.address });
    let round: number;
    try {
      const client = new Client({ connection });
      // Round 1 started: the campaign is well under way when the server dies.
      round = (await waitFor(
        () => campaignStatus(client, config.name).catch(() => null),
        (s) => s !== null && s.round >= 1,
        'round 1',
        120_000,
      ))!.round;
      // Held until the server is back: on an idle machine the tiny campaign would otherwise finish
      // before the outage, and the commands would have nothing to ride out.
      await pauseCampaign(client, config.name);
    } finally {
      await connection.close();
    }
    const watch = spawnLmsi(
      ['status', config.name, '--watch', '--address', server.address, '--outage-timeout', '120'],
      dir,
    );
    const watchExit = collect(watch, 200_000, 'lmsi status --watch');
    // Both commands are following it (the watcher has printed its first progress line).
    await new Promise((r) => setTimeout(r, 2000));
    // Down longer than the SDK's own gRPC retries last (about 20 s): the commands' reconnecting is
    // what carries them through, as with a real server restart or a short maintenance.
    await server.kill();
    await new Promise((r) => setTimeout(r, 30_000));
    await server.start();
    const again = await Connection.connect({ address: server.address });
    try {
      await resumeCampaign(new Client({ connection: again }), config.name);
    } finally {
      await again.close();
    }

    const [ran, watched] = await Promise.all([runExit, watchExit]);
    expectOk(ran);
    expectOk(watched);
    expect(round).toBeGreaterThanOrEqual(1);
    for (const r of [ran, watched]) {
      expect(r.stdout).toContain(`campaign ${config.name}: completed, round 1`);
      expect(r.stderr).toMatch(/lmsi: Temporal unreachable \(.*\); reconnecting for up to 120 s/);
      expect(r.stderr).toMatch(/lmsi: Temporal is back after \d+ s/);
    }
  }, 300_000);

  it("a completed campaign's id is not reused: run refuses it, --new-id takes the next free one", async () => {
    const again = await lmsi('run', '--config', configFile);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(
      new RegExp(
        `^lmsi: campaign ${config.name} completed \\(.+\\): its audit trail is never rewritten, so its id is not reused; start another with --new-id \\(it would be ${config.name}-2\\) or --id <another id>`,
        'm',
      ),
    );
    // A server that never saw it (another cluster, or after retention): the store's index refuses it.
    const elsewhere = await lmsi('run', '--config', configFile, '--address', testServerAddress());
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.stderr).toContain(
      `lmsi: campaign ${config.name} has an audit trail in the artifact store (`,
    );

    const fresh = await lmsi('run', '--config', configFile, '--new-id');
    expectOk(fresh);
    expect(fresh.stdout).toContain(`started campaign ${config.name}-2`);
    const connection = await Connection.connect({ address: server.address });
    try {
      await new Client({ connection }).workflow.getHandle(`${config.name}-2`).terminate('test over');
    } finally {
      await connection.close();
    }
  });

  it('with the server gone for good, status --watch gives up with exit 3 after --outage-timeout', async () => {
    await worker!.stop();
    worker = undefined;
    await server.stop();
    const started = Date.now();
    const run = await lmsi(
      'status',
      config.name,
      '--watch',
      '--address',
      server.address,
      '--outage-timeout',
      '2',
    );
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(
      /^lmsi: gave up waiting: Temporal unreachable for \d+ s \(--outage-timeout\)/m,
    );
    expect(Date.now() - started).toBeLessThan(60_000);
  }, 120_000);

  it('status, report and audit of the finished campaign work from the artifact store alone, no server', async () => {
    const status = await lmsi('status', config.name, '--json', '--config', configFile);
    expectOk(status);
    expect(status.stderr).toContain(
      `lmsi: Temporal unreachable (Failed to connect before the deadline): campaign ${config.name} read from the artifact store`,
    );
    const parsed = JSON.parse(status.stdout);
    expect(parsed).toMatchObject({ campaignId: config.name, state: 'completed', round: 1 });
    expect(parsed.rounds.map((r: { round: number }) => r.round)).toEqual([0, 1]);
    expect(parsed.report.jsonRef).toMatch(/^sha256:/);

    const out = path.join(dir, 'report');
    expectOk(await lmsi('report', config.name, '--config', configFile, '--out', out));
    const report = JSON.parse(await fs.readFile(path.join(out, 'report.json'), 'utf8'));
    expect(report.rounds.map((r: { round: number }) => r.round)).toEqual([0, 1]);

    const audit = await lmsi('audit', config.name, '--round', '1', '--json', '--config', configFile);
    expectOk(audit);
    expect(JSON.parse(audit.stdout)).toMatchObject({ campaignId: config.name, round: 1 });

    // A campaign the store does not hold finished still needs the server, and says so.
    const unknown = await lmsi('status', 'no-such-campaign', '--config', configFile);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain(
      'lmsi: Temporal unreachable (Failed to connect before the deadline), and the artifact store',
    );
  }, 180_000);
});

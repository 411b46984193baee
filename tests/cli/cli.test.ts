import { type ChildProcess, spawnSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { LocalArtifactStore } from '../../store';
import { testCampaignConfig } from '../../testing/campaign-config';
import { tempDir, testServerAddress } from '../helpers/temporal';
import { pretrainedTinyModel } from '../../testing/tiny-model';
import { forgetAllRuns, forgetWorkflows } from '../workflows/forget-workflows';
import { collect, runLmsi, spawnLmsi, type CliRun } from './process';

/**
 * The real `lmsi` command as processes: a worker process and the commands a user types, against the
 * jest dev server. One 1-round campaign (round 0 + round 1) on the cached tiny pretrained model.
 */
let dir: string;
let address: string;
let configFile: string;
let artifactsDir: string;
let worker: ChildProcess;
let workerExit: Promise<CliRun>;
const campaignId = `cli-${process.pid}-${Date.now()}`;

const lmsi = (...args: string[]) => runLmsi(args, dir);
const expectOk = (run: CliRun) => {
  if (run.code !== 0) throw new Error(`exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
};

beforeAll(async () => {
  address = testServerAddress();
  const base = await pretrainedTinyModel();
  dir = await tempDir('cli');
  artifactsDir = path.join(dir, 'artifacts');
  configFile = path.join(dir, 'campaign.json');
  // The tests' campaign config, written as a user writes one: artifacts relative to the file.
  const config = testCampaignConfig({
    name: campaignId,
    modelDir: base.modelDir,
    dataDir: path.dirname(base.data.eval),
    artifactsDir: 'artifacts',
    extra: {
      rounds: 1,
      data: { unlabeledQuestions: base.data.unlabeled, evaluation: base.data.eval, limit: 16 },
      training: { steps: 2, batchSize: 4, checkpointEvery: 2, learningRate: 1e-3 },
    },
  });
  config.temporal.address = address;
  await fs.writeFile(configFile, JSON.stringify(config, null, 2));
  worker = spawnLmsi(['worker', '--config', configFile, '--threads', '2'], dir);
  workerExit = collect(worker, 600_000, 'lmsi worker');
}, 180_000);

afterAll(async () => {
  // A run filtered with -t skips the SIGTERM test below: the worker is stopped here the same way,
  // while the dev server is still up. tsx runs the worker as its child and passes SIGTERM on; a
  // SIGKILL would end tsx alone and leave the worker running, holding the output pipes (jest
  // never exits) and polling the task queues.
  if (!worker || worker.exitCode !== null || worker.signalCode !== null) return;
  worker.kill('SIGTERM');
  const stopped = await Promise.race([
    workerExit.then(
      () => true,
      () => true,
    ),
    new Promise<false>((resolve) => setTimeout(() => resolve(false), 60_000).unref()),
  ]);
  if (!stopped) {
    // Still running (an activity that will not finish): tsx's children first, then tsx.
    spawnSync('pkill', ['-KILL', '-P', String(worker.pid)]);
    worker.kill('SIGKILL');
  }
}, 90_000);

describe('lmsi as processes (real dev server, a worker process)', () => {
  it('run --wait completes a campaign and prints its table with the report refs', async () => {
    const run = await lmsi('run', '--config', configFile, '--wait');
    expectOk(run);
    expect(run.stdout).toContain(`started campaign ${campaignId}`);
    expect(run.stdout).toContain(`campaign ${campaignId}: completed`);
    expect(run.stdout).toMatch(/report: sha256:[0-9a-f]{64}/);
  }, 300_000);

  it('status --json prints the documented shape, both rounds with metrics', async () => {
    const run = await lmsi('status', campaignId, '--json', '--address', address);
    expectOk(run);
    const status = JSON.parse(run.stdout);
    expect(Object.keys(status)).toEqual(
      expect.arrayContaining(['campaignId', 'state', 'round', 'step', 'progress', 'rounds']),
    );
    expect(status).toMatchObject({ campaignId, state: 'completed', round: 1 });
    expect(status.rounds.map((r: { round: number }) => r.round)).toEqual([0, 1]);
    for (const r of status.rounds) {
      expect(typeof r.greedyAccuracy).toBe('number');
      expect(typeof r.scAccuracy).toBe('number');
      expect(typeof r.promoted).toBe('boolean');
      expect(r.modelRef).toMatch(/^sha256:/);
    }
    expect(status.rounds[0].selfTrainingSetRef).toBeNull();
    // The campaign's report step stored its files: the refs are real artifacts.
    const report = status.report;
    expect(report.rounds).toBe(2);
    const store = new LocalArtifactStore(artifactsDir);
    expect(await store.getJson(report.jsonRef)).toMatchObject({ kind: 'lmsi.report', campaignId });
  });

  it('report --out writes report.json and report.html that parse', async () => {
    const out = path.join(dir, 'report');
    const run = await lmsi('report', campaignId, '--config', configFile, '--out', out);
    expectOk(run);
    expect(run.stdout.trim().split('\n')).toEqual([
      path.join(out, 'report.html'),
      path.join(out, 'report.json'),
    ]);
    const report = JSON.parse(await fs.readFile(path.join(out, 'report.json'), 'utf8'));
    expect(report).toMatchObject({ kind: 'lmsi.report', version: 1, campaignId });
    expect(report.rounds.map((r: { round: number }) => r.round)).toEqual([0, 1]);
    const html = await fs.readFile(path.join(out, 'report.html'), 'utf8');
    expect(html).toMatch(/^<!doctype html>/i);
    expect(html).toContain('<svg');
    expect(html).not.toMatch(/<script[\s>]/i);
  });

  it('audit --json shows the lineage of a round, and one question with --question', async () => {
    const run = await lmsi('audit', campaignId, '--round', '1', '--json', '--config', configFile);
    expectOk(run);
    const audit = JSON.parse(run.stdout);
    expect(audit).toMatchObject({ campaignId, round: 1 });
    expect(audit.lineage.sampleShards).toHaveLength(2);
    expect(audit.lineage.votesRef).toMatch(/^sha256:/);
    expect(audit.gate).toHaveProperty('promoted');

    // Without --config: the artifact store and the server given directly.
    const first = await lmsi(
      'audit',
      campaignId,
      '--round',
      '1',
      '--question',
      'arith-unlabeled-1',
      '--json',
      '--artifacts',
      artifactsDir,
      '--address',
      address,
    );
    expectOk(first);
    const question = JSON.parse(first.stdout);
    expect(question.questionId).toBe('arith-unlabeled-1');
    expect(question.sampled.paths).toHaveLength(4);
    expect(question.sampled.consistent).toBe(true);
  });

  it('list shows the campaign, where it ended, and filters by its search attributes', async () => {
    const run = await lmsi('list', '--address', address);
    expectOk(run);
    expect(run.stdout).toMatch(
      new RegExp(`^${campaignId}\\tCOMPLETED\\tround \\d+\\t\\S+\\tbest [\\d.]+%\\t`, 'm'),
    );
    const listed = async (...filter: string[]) => {
      const r = await lmsi('list', '--json', '--address', address, ...filter);
      expectOk(r);
      return (JSON.parse(r.stdout) as { campaignId: string }[]).map((c) => c.campaignId);
    };
    const json = JSON.parse((await lmsi('list', '--json', '--address', address)).stdout) as {
      campaignId: string;
      round: number;
      bestGreedyAccuracy: number;
    }[];
    const mine = json.find((c) => c.campaignId === campaignId)!;
    expect(mine.round).toBeGreaterThanOrEqual(0);
    expect(mine.bestGreedyAccuracy).toBeGreaterThanOrEqual(0);
    expect(await listed('--status', 'completed')).toContain(campaignId);
    expect(await listed('--status', 'running')).not.toContain(campaignId);
    expect(await listed('--min-accuracy', String(mine.bestGreedyAccuracy))).toContain(campaignId);
    expect(await listed('--min-accuracy', '1.01')).not.toContain(campaignId);
    expect(await listed('--query', `LmsiRound = ${mine.round}`)).toContain(campaignId);
    expect(await listed('--query', `LmsiRound > ${mine.round}`)).not.toContain(campaignId);
    const bad = await lmsi('list', '--status', 'sleeping', '--address', address);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('status "sleeping": one of Running, Completed, Failed');
  });

  it('exit codes: 2 for usage errors, 1 for bad input and failures', async () => {
    const [missingOption, unknownCommand, badConfig, unknownCampaign, unknownRound] = await Promise.all([
      lmsi('run'),
      lmsi('frobnicate'),
      (async () => {
        const bad = path.join(dir, 'bad.json');
        await fs.writeFile(bad, JSON.stringify({ name: 'x', sampling: { m: 0 } }));
        return lmsi('run', '--config', bad, '--address', address);
      })(),
      lmsi('status', `no-such-campaign-${process.pid}`, '--address', address),
      lmsi('audit', campaignId, '--round', '7', '--config', configFile),
    ]);
    expect(missingOption.code).toBe(2);
    expect(missingOption.stderr).toContain("required option '-c, --config <file>'");
    expect(unknownCommand.code).toBe(2);
    expect(badConfig.code).toBe(1);
    expect(badConfig.stderr).toMatch(/bad\.json.*sampling\.m/s);
    expect(unknownCampaign.code).toBe(1);
    expect(unknownCampaign.stderr).toMatch(/^lmsi: /);
    expect(unknownRound.code).toBe(1);
    expect(unknownRound.stderr).toContain('has no finished round 7');
  });

  it('the worker shuts down cleanly on SIGTERM', async () => {
    worker.kill('SIGTERM');
    const exit = await workerExit;
    expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 0, signal: null });
    expect(exit.stderr).toContain('lmsi worker: light on');
  });

  it('status, report and audit still work once Temporal has deleted the round workflows (retention), with no worker', async () => {
    const connection = await Connection.connect({ address });
    try {
      await forgetWorkflows(new Client({ connection }), [`${campaignId}/round-0`, `${campaignId}/round-1`]);
    } finally {
      await connection.close();
    }
    const status = await lmsi('status', campaignId, '--json', '--address', address);
    expectOk(status);
    const parsed = JSON.parse(status.stdout);
    expect(parsed).toMatchObject({ campaignId, state: 'completed', round: 1 });
    expect(parsed.rounds.map((r: { round: number }) => r.round)).toEqual([0, 1]);
    for (const r of parsed.rounds) expect(r.resultRef).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(parsed.report.jsonRef).toMatch(/^sha256:/);

    const out = path.join(dir, 'report-after-retention');
    expectOk(await lmsi('report', campaignId, '--config', configFile, '--out', out));
    const report = JSON.parse(await fs.readFile(path.join(out, 'report.json'), 'utf8'));
    expect(report.rounds.map((r: { round: number; modelOut: string }) => [r.round, r.modelOut])).toEqual(
      parsed.rounds.map((r: { round: number; modelRef: string }) => [r.round, r.modelRef]),
    );

    await expectRound1Audit();
    const question = await lmsi(
      'audit',
      campaignId,
      '--round',
      '1',
      '--question',
      'arith-unlabeled-1',
      '--json',
      '--config',
      configFile,
    );
    expectOk(question);
    expect(JSON.parse(question.stdout).sampled.paths).toHaveLength(4);
  });

  /** `audit --round 1 --json` read from the artifact store names the campaign and the round. */
  async function expectRound1Audit() {
    const audit = await lmsi(
      'audit',
      campaignId,
      '--round',
      '1',
      '--json',
      '--artifacts',
      artifactsDir,
      '--address',
      address,
    );
    expectOk(audit);
    expect(JSON.parse(audit.stdout)).toMatchObject({ campaignId, round: 1 });
  }

  it('status, report and audit work from the campaign index once the campaign workflow is gone too', async () => {
    const before = await lmsi('status', campaignId, '--json', '--address', address);
    expectOk(before);
    const connection = await Connection.connect({ address });
    try {
      await forgetAllRuns(new Client({ connection }), campaignId);
    } finally {
      await connection.close();
    }
    // Temporal alone no longer knows the campaign.
    const gone = await lmsi('status', campaignId, '--json', '--address', address);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain(`lmsi: campaign ${campaignId} not found: Temporal has no such workflow`);

    // With the artifact store (from --config, or --artifacts): the same status, from the index.
    for (const source of [
      ['--config', configFile],
      ['--artifacts', artifactsDir, '--address', address],
    ]) {
      const status = await lmsi('status', campaignId, '--json', ...source);
      expectOk(status);
      expect(JSON.parse(status.stdout)).toEqual(JSON.parse(before.stdout));
    }
    const table = await lmsi('status', campaignId, '--config', configFile);
    expectOk(table);
    expect(table.stdout).toContain(`campaign ${campaignId}: completed, round 1`);

    const out = path.join(dir, 'report-after-campaign-retention');
    expectOk(await lmsi('report', campaignId, '--config', configFile, '--out', out));
    const report = JSON.parse(await fs.readFile(path.join(out, 'report.json'), 'utf8'));
    expect(report.rounds.map((r: { round: number }) => r.round)).toEqual([0, 1]);
    await expectRound1Audit();
  });
});

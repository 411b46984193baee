/**
 * npm run bench:cluster — hosts that go away (issue 22 item 4). Needs root: it makes network
 * namespaces and veth links (loopback-only: a private subnet on a bridge, no route out).
 *
 * Three "hosts" — network namespaces `light`, `acc-1`, `acc-2`, each joined to the host by a veth
 * pair on one bridge — run `lmsi worker` processes (the light queue on `light`, the accelerator queue
 * on `acc-*`), each with its own cache of the S3 store. Temporal (the production server on
 * PostgreSQL, or the CLI's dev server) and the S3 server (SeaweedFS, infra/s3/) run on the host, on
 * the bridge's address. The same campaign (tiny model, round 0 and one round of self-improvement,
 * same seed and config) runs twice, under its own S3 prefix each time: once undisturbed (the
 * reference), once with three faults in its round (bench/cluster/campaign.ts): an accelerator host
 * cut off mid-sampling, the host that fine-tunes cut off mid-training, the S3 server killed and
 * restarted mid-round. The kept paths, the self-training set and the round metrics must be
 * byte-identical, with every question sampled once and none lost.
 *
 *   --temporal=cluster|dev (cluster)  --unlabeled=N (320)  --eval=N (120)  --m=N (8)  --steps=N (300)
 *   --deadline-min=M (30): past it the bench stops, cleans up and fails
 *   --keep: keep the scratch folder (logs, S3 data, Temporal state); kept anyway on failure
 *   --out=FILE (bench/results/cluster.json)
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { machine } from '../../testing/machine';
import { TINY_RECIPE } from '../../embedded';
import { writeArithSplits } from '../../method/tasks/arith';
import { pretrainedTinyModel } from '../../testing/tiny-model';
import { flagArg, numberArg, stringArg } from '../args';
import { runCampaign, type CampaignRun, type Cluster } from './campaign';
import { createHosts, hostsNamed, removeHosts } from './netns';
import { startS3, startTemporal, stopS3Sync, stopTemporalSync, type TemporalKind } from './services';
import type { HostWorker } from './workers';

const TEMPORAL = stringArg('temporal', 'cluster') as TemporalKind;
// Questions of the tiny model's own kind (its recipe's knobs), enough that a sampling shard and the
// evaluation outlast a few of a worker's throttled heartbeats: the faults are triggered by progress.
const UNLABELED = numberArg('unlabeled', 320);
const EVAL = numberArg('eval', 120);
const M = numberArg('m', 8);
const STEPS = numberArg('steps', 300);
const DEADLINE_MIN = numberArg('deadline-min', 30);
const KEEP = flagArg('keep');
const OUT = path.resolve(stringArg('out', 'bench/results/cluster.json'));

/** Undone in reverse order on every way out: success, failure, the deadline, a signal. */
const cleanups: { what: string; run: () => void }[] = [];
let cleaned = false;
function cleanUp(): void {
  if (cleaned) return;
  cleaned = true;
  for (const c of cleanups.reverse()) {
    try {
      c.run();
    } catch (e) {
      process.stderr.write(`cleanup (${c.what}) failed: ${(e as Error).message}\n`);
    }
  }
}

async function main(): Promise<void> {
  if (TEMPORAL !== 'cluster' && TEMPORAL !== 'dev') {
    console.error(`--temporal must be cluster or dev, not "${TEMPORAL}"`);
    process.exit(2);
  }
  if (process.getuid?.() !== 0) {
    console.error(
      'npm run bench:cluster needs root: it creates network namespaces, veth links and a bridge (run it as root, e.g. sudo npm run bench:cluster)',
    );
    process.exit(2);
  }
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    console.error('npm run bench:cluster needs iproute2 (`ip`)');
    process.exit(2);
  }
  process.on('exit', cleanUp);
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(s, () => {
      console.error(`\n${s}: cleaning up`);
      process.exit(1);
    });
  }
  setTimeout(() => {
    console.error(`deadline of ${DEADLINE_MIN} min passed: stopping`);
    process.exit(1);
  }, DEADLINE_MIN * 60_000).unref();

  const t0 = Date.now();
  // The machine is shared: the load when the bench starts, beside machine()'s at its end.
  const loadAtStart = os.loadavg().map((l) => Math.round(l * 100) / 100);
  const seconds = (from: number) => Math.round((Date.now() - from) / 100) / 10;
  const root = mkdtempSync(path.join(os.tmpdir(), 'lmsi-cluster-bench-'));
  let ok = false;
  cleanups.push({
    what: 'scratch folder',
    run: () => {
      if (ok && !KEEP) rmSync(root, { recursive: true, force: true });
      else console.error(`scratch folder kept (logs, S3 data, Temporal state): ${root}`);
    },
  });
  const log = (line: string) => process.stdout.write(`[${seconds(t0).toFixed(1)} s] ${line}\n`);
  const servicesLog = path.join(root, 'services.log');

  const hosts = hostsNamed(['light', 'acc-1', 'acc-2']);
  cleanups.push({ what: 'network namespaces', run: () => removeHosts(hosts) });
  createHosts(hosts);
  log(`namespaces ${hosts.map((h) => `${h.netns} (${h.ip})`).join(', ')} on bridge lmsi-br0`);

  const temporalDir = path.join(root, 'temporal');
  mkdirSync(temporalDir);
  cleanups.push({ what: 'Temporal', run: () => stopTemporalSync(TEMPORAL, temporalDir) });
  const temporal = await startTemporal(TEMPORAL, temporalDir, servicesLog);
  log(`Temporal (${temporal.kind}) on ${temporal.address}, namespace ${temporal.namespace}`);
  const s3Dir = path.join(root, 's3');
  cleanups.push({ what: 'S3 server', run: () => stopS3Sync(s3Dir) });
  const s3 = await startS3(s3Dir, servicesLog);
  log(`S3 server on ${s3.endpoint}, bucket ${s3.bucket}`);
  // The bench's own store (starting campaigns, reading results) uses the same test identity.
  Object.assign(process.env, s3.clientEnv);
  delete process.env.AWS_PROFILE;
  delete process.env.AWS_SESSION_TOKEN;

  const workers: HostWorker[] = [];
  cleanups.push({
    what: 'workers',
    run: () => {
      for (const w of workers) if (w.alive()) w.child.kill('SIGKILL');
    },
  });
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection, namespace: temporal.namespace });
  const base = await pretrainedTinyModel();
  const dataDir = path.join(root, 'data');
  await writeArithSplits(
    dataDir,
    'cluster-bench',
    { train: 0, unlabeled: UNLABELED, eval: EVAL },
    TINY_RECIPE.knobs,
  );
  const cluster: Cluster = {
    light: hosts[0],
    accelerators: hosts.slice(1),
    temporal,
    s3,
    client,
    root,
    modelDir: base.modelDir,
    dataDir,
    workers,
    log,
  };
  const setupSeconds = seconds(t0);

  const shape = { unlabeled: UNLABELED, eval: EVAL, m: M, steps: STEPS };
  const reference = await runCampaign(cluster, 'reference', { inject: false, ...shape });
  const faulted = await runCampaign(cluster, 'faulted', { inject: true, ...shape });
  await connection.close();

  const same = (f: (r: CampaignRun) => unknown) =>
    JSON.stringify(f(reference)) === JSON.stringify(f(faulted));
  const identical = {
    keptPaths: same((r) => r.tally.sha256.keptPaths),
    trainingSet: same((r) => r.tally.sha256.trainingSet),
    metrics: same((r) => r.tally.sha256.metrics),
    outcome: same((r) => r.tally.sha256.outcome),
    counts: same((r) => [r.tally.sampling, r.tally.evaluation, r.tally.keptPaths, r.tally.trainingExamples]),
  };
  const clean = (r: CampaignRun) =>
    r.tally.sampling.duplicateQuestions +
      r.tally.sampling.missingQuestions +
      r.tally.sampling.questionsWithWrongPaths +
      r.tally.evaluation.duplicateQuestions +
      r.tally.evaluation.missingQuestions ===
    0;
  const report = {
    machine: { ...machine(), loadAverageAtStart: loadAtStart },
    date: new Date().toISOString(),
    temporal: { kind: temporal.kind, address: temporal.address, namespace: temporal.namespace },
    s3: { server: 'SeaweedFS (infra/s3)', endpoint: s3.endpoint, bucket: s3.bucket },
    hosts: hosts.map((h) => ({ name: h.name, netns: h.netns, ip: h.ip })),
    settings: {
      ...shape,
      rounds: 1,
      campaign:
        'testing/fault-campaign.ts faultCampaignConfig (seed 7, heartbeat timeout 5 s) with m paths, two sampling shards, one evaluation shard, a checkpoint every 10 steps',
      workerThreads: 1,
    },
    faults: faulted.faults,
    identical: Object.values(identical).every(Boolean) && clean(reference) && clean(faulted),
    compared: identical,
    reference,
    faulted,
    durations: {
      setupSeconds,
      referenceSeconds: reference.wallSeconds,
      faultedSeconds: faulted.wallSeconds,
      totalSeconds: seconds(t0),
    },
  };
  mkdirSync(path.dirname(OUT), { recursive: true });
  writeFileSync(OUT, `${JSON.stringify(report, null, 2)}\n`);

  const short = (h: string) => h.slice(0, 12);
  console.table(
    [reference, faulted].map((r) => ({
      run: r.label,
      'wall s': r.wallSeconds,
      faults: r.faults.length,
      'sampled q': r.tally.sampling.records,
      paths: r.tally.sampling.paths,
      dup: r.tally.sampling.duplicateQuestions + r.tally.evaluation.duplicateQuestions,
      lost: r.tally.sampling.missingQuestions + r.tally.evaluation.missingQuestions,
      'stray drafts': r.leftoverDraftObjects,
      kept: r.tally.keptPaths,
      examples: r.tally.trainingExamples,
      'training set': short(r.tally.sha256.trainingSet),
      metrics: short(r.tally.sha256.metrics),
    })),
  );
  console.table(
    faulted.faults.map((f) => ({
      fault: f.fault,
      'at s': f.atSeconds,
      host: f.host ?? 'S3 server',
      hit: f.victim ? `${f.victim.type} on ${f.victim.identity} ${JSON.stringify(f.victim.progress)}` : '',
      'moved after s': f.serverMovedItAfterSeconds ?? '',
      'finished by': f.finishedBy ? `${f.finishedBy.identity} (attempt ${f.finishedBy.attempt})` : '',
      'S3 down s': f.s3DownSeconds ?? '',
    })),
  );
  console.log(`identical: ${report.identical} (${JSON.stringify(identical)}); temporal: ${temporal.kind}`);
  console.log(`wrote ${OUT}`);
  ok = true;
  if (!report.identical) process.exitCode = 1;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});

import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as net from 'node:net';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { HOST_IP } from './netns';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..');

export type TemporalKind = 'cluster' | 'dev';

/** A service on the host, started by the project's own infra/ scripts on the bridge address. */
export interface TemporalService {
  kind: TemporalKind;
  address: string;
  namespace: string;
  port: number;
}

export interface S3Service {
  endpoint: string;
  bucket: string;
  port: number;
  /** The AWS variables clients need (the server's generated test identity). */
  clientEnv: Record<string, string>;
  /** `infra/s3/stop --kill`: SIGKILL, as a crashed host. */
  kill(): Promise<void>;
  /** `infra/s3/start` again: the same ports and data folder. */
  start(): Promise<void>;
}

function freePort(ip = HOST_IP): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer().once('error', reject);
    srv.listen(0, ip, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function script(file: string, args: string[], env: NodeJS.ProcessEnv, log: string): Promise<void> {
  try {
    const { stdout, stderr } = await run('bash', [path.join(ROOT, file), ...args], {
      env,
      timeout: 300_000,
    });
    await fs.appendFile(log, stdout + stderr);
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    await fs.appendFile(log, (err.stdout ?? '') + (err.stderr ?? ''));
    throw new Error(`${file} ${args.join(' ')} failed: ${err.message}\n${(err.stderr ?? '').slice(-3000)}`);
  }
}

function scriptSync(file: string, args: string[], env: NodeJS.ProcessEnv): void {
  try {
    execFileSync('bash', [path.join(ROOT, file), ...args], { env, stdio: 'ignore', timeout: 60_000 });
  } catch {
    // Best effort: the exit path goes on with the next cleanup.
  }
}

/**
 * Temporal on the host, listening on the bridge address so every namespace reaches it: the
 * production server on PostgreSQL (infra/temporal/cluster/) or the CLI's dev server
 * (infra/temporal/start), each with its state under `stateDir`.
 */
export async function startTemporal(
  kind: TemporalKind,
  stateDir: string,
  log: string,
): Promise<TemporalService> {
  if (kind === 'dev') {
    // The dev server's own services reach its frontend on 127.0.0.1: bound to the bridge's address
    // alone it never becomes ready, so it listens on every address (`start-dev --ip 0.0.0.0`), and
    // the namespaces reach it on the bridge's.
    const port = await freePort('0.0.0.0');
    const env = {
      ...process.env,
      LMSI_STATE_DIR: stateDir,
      LMSI_TEMPORAL_IP: '0.0.0.0',
      LMSI_TEMPORAL_PORT: String(port),
      LMSI_TEMPORAL_UI_PORT: String(await freePort('0.0.0.0')),
    };
    await script('infra/temporal/start', [], env, log);
    return {
      kind,
      address: `${HOST_IP}:${port}`,
      namespace: 'default',
      port,
    };
  }
  const start = path.join(ROOT, 'infra/temporal/cluster/start');
  if (!existsSync(start)) {
    throw new Error(
      'infra/temporal/cluster/start is missing: the production Temporal server is not part of this checkout; run with --temporal=dev',
    );
  }
  // PostgreSQL runs as the `postgres` OS user, which must reach its data folder under ours.
  await fs.chmod(path.dirname(stateDir), 0o711);
  await fs.chmod(stateDir, 0o755);
  // The production server's services all listen on, and tell each other, the address given: the
  // bridge's alone, so nothing of it is reachable from outside this machine.
  const port = await freePort();
  const env = {
    ...process.env,
    LMSI_CLUSTER_STATE_DIR: stateDir,
    LMSI_CLUSTER_TEMPORAL_IP: HOST_IP,
    LMSI_CLUSTER_TEMPORAL_PORT: String(port),
  };
  await script('infra/temporal/cluster/start', [], env, log);
  return {
    kind,
    address: `${HOST_IP}:${port}`,
    namespace: process.env.LMSI_CLUSTER_NAMESPACE ?? 'default',
    port,
  };
}

/** SeaweedFS (infra/s3/start) on the bridge address, a free S3 port, its data under `stateDir`. */
export async function startS3(stateDir: string, log: string): Promise<S3Service> {
  const env = {
    ...process.env,
    LMSI_S3_STATE_DIR: stateDir,
    LMSI_S3_IP: HOST_IP,
    LMSI_S3_PORT: 'auto',
    LMSI_S3_BUCKET: 'lmsi-cluster-bench',
  };
  await script('infra/s3/start', [], env, log);
  const vars = Object.fromEntries(
    (await fs.readFile(path.join(stateDir, 's3.env'), 'utf8'))
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  const endpoint = vars.LMSI_S3_ENDPOINT;
  return {
    endpoint,
    bucket: vars.LMSI_S3_BUCKET,
    port: Number(new URL(endpoint).port),
    clientEnv: {
      AWS_ACCESS_KEY_ID: vars.AWS_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: vars.AWS_SECRET_ACCESS_KEY,
      AWS_REGION: vars.AWS_REGION,
    },
    kill: () => script('infra/s3/stop', ['--kill'], env, log),
    start: () => script('infra/s3/start', [], env, log),
  };
}

/**
 * Stops what `startTemporal` started in `stateDir` (also after a start that failed half-way: the
 * scripts find their processes by the state folder). Synchronous, for the exit handler.
 */
export function stopTemporalSync(kind: TemporalKind, stateDir: string): void {
  if (kind === 'dev') scriptSync('infra/temporal/stop', [], { ...process.env, LMSI_STATE_DIR: stateDir });
  else scriptSync('infra/temporal/cluster/stop', [], { ...process.env, LMSI_CLUSTER_STATE_DIR: stateDir });
}

/** Kills the S3 server of `stateDir` (its data goes with the scratch folder). Synchronous. */
export function stopS3Sync(stateDir: string): void {
  scriptSync('infra/s3/stop', ['--kill'], { ...process.env, LMSI_S3_STATE_DIR: stateDir });
}

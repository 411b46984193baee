import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { inHost, type Host } from './netns';

const ROOT = path.resolve(__dirname, '..', '..');

export type Role = 'light' | 'accelerator';

export interface HostWorkerOptions {
  host: Host;
  role: Role;
  /** What `lmsi status` shows for it, and what the bench finds its activities by. */
  identity: string;
  temporal: { address: string; namespace: string };
  queues: { light: string; accelerator: string };
  s3: { endpoint: string; bucket: string; prefix: string; clientEnv: Record<string, string> };
  /** This host's own read-through cache of the bucket. */
  cacheDir: string;
  threads: number;
  logFile: string;
}

/** An `lmsi worker` process inside a host's namespace. */
export interface HostWorker {
  host: Host;
  role: Role;
  identity: string;
  pid: number;
  child: ChildProcess;
  alive(): boolean;
  /** SIGKILL: the host's process is gone without a word, as on a crashed machine. */
  kill(): Promise<void>;
}

/**
 * Starts `lmsi worker` (the product's own command, through tsx) in the host's namespace, with the
 * S3 store and its own cache, and resolves once the worker has connected and says which queue it
 * polls.
 */
export async function startHostWorker(o: HostWorkerOptions): Promise<HostWorker> {
  await fs.mkdir(o.cacheDir, { recursive: true });
  const log = await fs.open(o.logFile, 'a');
  const argv = [
    process.execPath,
    '--import',
    'tsx',
    path.join(ROOT, 'cli/main.ts'),
    'worker',
    '--address',
    o.temporal.address,
    '--namespace',
    o.temporal.namespace,
    '--queues',
    o.role,
    '--light-queue',
    o.queues.light,
    '--accelerator-queue',
    o.queues.accelerator,
    '--artifacts',
    o.cacheDir,
    '--s3-bucket',
    o.s3.bucket,
    '--s3-endpoint',
    o.s3.endpoint,
    '--s3-prefix',
    o.s3.prefix,
    '--s3-force-path-style',
    '--identity',
    o.identity,
    '--threads',
    String(o.threads),
  ];
  const child = spawn('ip', inHost(o.host, argv), {
    cwd: ROOT,
    stdio: ['ignore', log.fd, 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '', ...o.s3.clientEnv },
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => log.close());
  await new Promise<void>((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      void fs.appendFile(o.logFile, d);
      if (err.includes('lmsi worker:')) resolve();
    });
    child.once('exit', (code) =>
      reject(new Error(`${o.identity}: lmsi worker exited (${code}) before it polled; see ${o.logFile}`)),
    );
  });
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    host: o.host,
    role: o.role,
    identity: o.identity,
    pid: child.pid!,
    child,
    alive,
    async kill() {
      if (alive()) child.kill('SIGKILL');
      await exited;
    },
  };
}

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { workflowsPath } from '../workers';

const root = path.resolve(__dirname, '..');

export interface WorkerProcessOptions {
  address: string;
  lightQueue: string;
  acceleratorQueue: string;
  artifactsDir: string;
  workflowCodePath: string;
  threads?: number;
  logLevel?: 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /** Extra environment of the child (e.g. a codec key). */
  env?: Record<string, string>;
  /** stdout and stderr of the child are appended here (the log-hygiene test reads them). */
  logFile: string;
}

/** A worker running in its own process: `kill()` is a SIGKILL, as a crashed machine would be. */
export interface WorkerProcess {
  pid: number;
  /** The identity Temporal records for this worker's activity attempts (`pid@host`, the SDK default). */
  identityPrefix: string;
  child: ChildProcess;
  kill(): Promise<void>;
  /** SIGTERM: the graceful shutdown path. */
  stop(): Promise<void>;
}

/**
 * Bundles the workflows once into a file that every child worker loads. Children with a codec key
 * need the bundle built with the same `failureConverterPath` (lmsiDataConverter's), so that
 * workflow failures are encoded too.
 */
export async function writeWorkflowBundle(dir: string, failureConverterPath?: string): Promise<string> {
  const { code } = await bundleWorkflowCode({
    workflowsPath,
    failureConverterPath,
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: (m) => console.error(m) },
  });
  const file = path.join(dir, 'workflow-bundle.js');
  await fs.writeFile(file, code);
  return file;
}

export async function startWorkerProcess(options: WorkerProcessOptions): Promise<WorkerProcess> {
  const { logFile, env, ...rest } = options;
  const log = await fs.open(logFile, 'a');
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(__dirname, 'worker-main.ts'), JSON.stringify({ threads: 2, ...rest })],
    { cwd: root, stdio: ['ignore', 'pipe', log.fd], env: { ...process.env, NODE_OPTIONS: '', ...env } },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => log.close());
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      void fs.appendFile(logFile, d);
      if (out.includes('ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`worker exited (${code}) before ready; see ${logFile}`)));
  });
  const pid = child.pid!;
  const signal = async (s: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(s);
    await exited;
  };
  return {
    pid,
    identityPrefix: `${pid}@`,
    child,
    kill: () => signal('SIGKILL'),
    stop: () => signal('SIGTERM'),
  };
}

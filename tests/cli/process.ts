import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';

const root = path.resolve(__dirname, '../..');
const tsx = path.join(root, 'node_modules/.bin/tsx');
const main = path.join(root, 'cli/main.ts');

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Environment of a CLI process: no Temporal address or namespace of the machine leaks into the test (tests pass --address). */
function cliEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('TEMPORAL_')) delete env[key];
  return { ...env, ...extra };
}

/** Starts the real `lmsi` command (TypeScript through tsx, as `npx tsx cli/main.ts` does). */
export function spawnLmsi(args: string[], cwd: string, env?: NodeJS.ProcessEnv): ChildProcess {
  return spawn(tsx, [main, ...args], { cwd, env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs `lmsi args...` to its end and collects its exit code and output (`env` adds variables). */
export function runLmsi(
  args: string[],
  cwd: string,
  timeoutMs = 120_000,
  env?: NodeJS.ProcessEnv,
): Promise<CliRun> {
  const child = spawnLmsi(args, cwd, env);
  return collect(child, timeoutMs, `lmsi ${args.join(' ')}`);
}

export function collect(child: ChildProcess, timeoutMs: number, what: string): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what}: no exit after ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

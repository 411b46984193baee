import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/**
 * One bench phase as a child process, watched from outside: its resident memory (the child and
 * every process under it) is read from /proc several times a second, and the child is killed before
 * it can take the machine down, when it passes `rssLimitBytes` or the machine's available memory
 * falls under `minAvailableBytes` (the machine is shared: the OOM killer would pick any process).
 */
export interface ChildLimits {
  timeoutMs: number;
  rssLimitBytes: number;
  minAvailableBytes: number;
}

export interface ChildRun {
  exitCode: number | null;
  signal: string | null;
  seconds: number;
  /** Largest sum of VmRSS over the process tree seen by the poll, and the child's own VmHWM. */
  peakRssBytes: number;
  /** Why the bench killed it: null when it ended by itself. */
  killed: null | {
    reason: 'rss-limit' | 'machine-low-memory' | 'timeout';
    rssBytes: number;
    availableBytes: number;
  };
  stdout: string;
  stderr: string;
}

const POLL_MS = 200;

function statusField(pid: number, field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0; // gone between the listing and the read
  }
}

/** The pid and every descendant (a CLI through tsx, onnxruntime never forks: usually one process). */
function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${out[i]}/task`);
    } catch {
      continue;
    }
    for (const t of tasks) {
      try {
        const children = readFileSync(`/proc/${out[i]}/task/${t}/children`, 'utf8').trim();
        if (children) out.push(...children.split(/\s+/).map(Number));
      } catch {
        // thread ended
      }
    }
  }
  return out;
}

export function availableBytes(): number {
  const m = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** Runs `node --import tsx <args>` (a TypeScript entry point of this repository) under the limits. */
export function runChild(args: string[], limits: ChildLimits, env: NodeJS.ProcessEnv): Promise<ChildRun> {
  return runProcess(process.execPath, ['--import', 'tsx', ...args], limits, env);
}

/** Runs any program under the limits (bench/real-size's Python side). */
export function runProcess(
  command: string,
  args: string[],
  limits: ChildLimits,
  env: NodeJS.ProcessEnv,
): Promise<ChildRun> {
  const started = performance.now();
  const child = spawn(command, args, {
    cwd: process.cwd(),
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // A bench stopped by a signal or an error must not leave a phase running on the shared machine.
  const orphanGuard = () => child.kill('SIGKILL');
  process.once('exit', orphanGuard);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (stderr.length > 200_000) stderr = stderr.slice(-100_000);
  });
  let peak = 0;
  let killed: ChildRun['killed'] = null;
  const kill = (reason: NonNullable<ChildRun['killed']>['reason'], rss: number) => {
    if (killed) return;
    killed = { reason, rssBytes: rss, availableBytes: availableBytes() };
    for (const pid of processTree(child.pid!).reverse()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  const poll = setInterval(() => {
    if (child.pid === undefined) return;
    const tree = processTree(child.pid);
    const rss = tree.reduce((a, pid) => a + statusField(pid, 'VmRSS'), 0);
    peak = Math.max(peak, rss, statusField(child.pid, 'VmHWM'));
    if (rss > limits.rssLimitBytes) kill('rss-limit', rss);
    else if (availableBytes() < limits.minAvailableBytes) kill('machine-low-memory', rss);
  }, POLL_MS);
  const timer = setTimeout(() => kill('timeout', peak), limits.timeoutMs);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearInterval(poll);
      clearTimeout(timer);
      process.removeListener('exit', orphanGuard);
      resolve({
        exitCode: code,
        signal,
        seconds: (performance.now() - started) / 1000,
        peakRssBytes: peak,
        killed,
        stdout,
        stderr,
      });
    });
  });
}

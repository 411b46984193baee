import { execFile } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as net from 'node:net';
import * as path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const scripts = path.resolve(__dirname, '../infra/temporal');

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A Temporal dev server of its own (infra/temporal/start on a private state dir and ports), which a
 * test may SIGKILL and start again on the same SQLite file.
 */
export interface DevServer {
  address: string;
  stateDir: string;
  start(): Promise<void>;
  /** SIGKILL: no shutdown, as a crashed machine. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

export async function devServer(stateDir: string): Promise<DevServer> {
  const port = await freePort();
  const env = { ...process.env, LMSI_STATE_DIR: stateDir, LMSI_TEMPORAL_PORT: String(port) };
  const pidFile = path.join(stateDir, 'temporal/server.pid');
  return {
    address: `127.0.0.1:${port}`,
    stateDir,
    async start() {
      // The gRPC port is the server's address and stays; the Web UI's is taken afresh on every
      // start: between a kill and a restart another test's server may have bound the old one.
      const uiPort = String(await freePort());
      await run('bash', [path.join(scripts, 'start')], { env: { ...env, LMSI_TEMPORAL_UI_PORT: uiPort } });
    },
    async kill() {
      const pid = Number((await fs.readFile(pidFile, 'utf8')).trim());
      process.kill(pid, 'SIGKILL');
      // Gone, or a zombie nobody reaps (a container's init may not): either way it serves nothing.
      for (let i = 0; i < 100; i++) {
        const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
        if (stat === null || / Z /.test(stat)) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      // infra/temporal/start takes a live pid (kill -0, true for a zombie) as "already running".
      await fs.rm(pidFile, { force: true });
    },
    async stop() {
      await run('bash', [path.join(scripts, 'stop')], { env });
    },
  };
}

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as net from 'node:net';
import * as path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = path.resolve(__dirname, '..');
const scripts = path.join(root, 'infra/temporal/cluster');

function freePort(ip: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject).listen(0, ip, () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export interface TemporalClusterOptions {
  /** Where the frontend listens (default 127.0.0.1; 0.0.0.0 to be reached from other hosts). */
  ip?: string;
  /** Its gRPC port (default: a free one). */
  port?: number;
  namespace?: string;
  /** The namespace's retention period, in the CLI's words ("7d", "72h"). */
  retention?: string;
}

/**
 * A Temporal server on PostgreSQL of its own: infra/temporal/cluster/start on a private state folder
 * and ports, as a deployment runs it (the server built from go.temporal.io/server, not the dev server).
 */
export interface TemporalCluster {
  /** Where clients on this machine reach the frontend. */
  address: string;
  namespace: string;
  stateDir: string;
  /** start's output (the summary it prints). */
  start(): Promise<string>;
  /** SIGKILL of the server and an immediate stop of PostgreSQL, as a crashed host. */
  kill(): Promise<void>;
  stop(): Promise<void>;
  /** Stops it and deletes its data. */
  wipe(): Promise<void>;
}

export async function temporalCluster(
  stateDir: string,
  options: TemporalClusterOptions = {},
): Promise<TemporalCluster> {
  const server = path.join(process.env.LMSI_TOOLS_DIR ?? path.join(root, '.tools'), 'bin', 'temporal-server');
  if (!existsSync(server)) {
    throw new Error(
      `the Temporal server is not installed at ${server}: run \`bash infra/temporal/cluster/install\``,
    );
  }
  const ip = options.ip ?? '127.0.0.1';
  const port = options.port ?? (await freePort(ip));
  const namespace = options.namespace ?? 'default';
  await fs.mkdir(stateDir, { recursive: true });
  // Run as root, PostgreSQL runs as the postgres OS user, which must be able to enter the folder
  // (a mkdtemp folder is owner-only).
  await fs.chmod(stateDir, 0o755);
  const env = {
    ...process.env,
    LMSI_CLUSTER_STATE_DIR: stateDir,
    LMSI_CLUSTER_TEMPORAL_IP: ip,
    LMSI_CLUSTER_TEMPORAL_PORT: String(port),
    LMSI_CLUSTER_NAMESPACE: namespace,
    ...(options.retention ? { LMSI_CLUSTER_RETENTION: options.retention } : {}),
  };
  const script = async (name: string, args: string[] = []) => {
    try {
      const { stdout } = await run('bash', [path.join(scripts, name), ...args], { env, timeout: 300_000 });
      return stdout;
    } catch (e) {
      const log = await fs.readFile(path.join(stateDir, 'server.log'), 'utf8').catch(() => '');
      const { stderr } = e as { stderr?: string };
      throw new Error(
        `infra/temporal/cluster/${name} failed: ${stderr ?? (e as Error).message}\n${log.slice(-4000)}`,
      );
    }
  };
  return {
    address: `${ip === '0.0.0.0' ? '127.0.0.1' : ip}:${port}`,
    namespace,
    stateDir,
    start: () => script('start'),
    kill: async () => void (await script('stop', ['--kill'])),
    stop: async () => void (await script('stop')),
    wipe: async () => void (await script('stop', ['--wipe'])),
  };
}

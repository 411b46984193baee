import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');

export interface TestS3Server {
  endpoint: string;
  bucket: string;
  /** Kills the server (SIGKILL, as a crashed host), keeping its data, ports and keys. */
  kill(): Promise<void>;
  /** Starts it again where it was. */
  resume(): Promise<void>;
  /** Stops it and removes its data. */
  stop(): Promise<void>;
}

/**
 * A real SeaweedFS S3 server for one test file, started with the project's own infra/s3/start on free
 * loopback ports, with its own data folder and keys. The keys go into this process's AWS environment
 * variables, where the SDK's default credential chain (the only one the store uses) finds them.
 */
export async function startTestS3Server(): Promise<TestS3Server> {
  const weed = path.join(process.env.LMSI_TOOLS_DIR ?? path.join(ROOT, '.tools'), 'bin', 'weed');
  if (!existsSync(weed)) {
    throw new Error(
      `the SeaweedFS S3 server is not installed at ${weed}: run \`bash infra/s3/install\` first`,
    );
  }
  const stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'lmsi-s3-'));
  const env = {
    ...process.env,
    LMSI_S3_STATE_DIR: stateDir,
    LMSI_S3_PORT: 'auto',
    LMSI_S3_BUCKET: 'lmsi-test',
  };
  try {
    await run('bash', [path.join(ROOT, 'infra/s3/start')], { env, timeout: 200_000 });
  } catch (e) {
    const log = await fs.readFile(path.join(stateDir, 'server.log'), 'utf8').catch(() => '');
    throw new Error(`infra/s3/start failed: ${(e as Error).message}\n${log.slice(-4000)}`);
  }
  const vars = Object.fromEntries(
    (await fs.readFile(path.join(stateDir, 's3.env'), 'utf8'))
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION'])
    process.env[name] = vars[name];
  // A profile or session token from the machine would otherwise mix into the test identity.
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
  return {
    endpoint: vars.LMSI_S3_ENDPOINT,
    bucket: vars.LMSI_S3_BUCKET,
    async kill() {
      await run('bash', [path.join(ROOT, 'infra/s3/stop'), '--kill'], { env, timeout: 60_000 });
    },
    async resume() {
      await run('bash', [path.join(ROOT, 'infra/s3/start')], { env, timeout: 200_000 });
    },
    async stop() {
      await run('bash', [path.join(ROOT, 'infra/s3/stop')], { env, timeout: 60_000 });
      await fs.rm(stateDir, { recursive: true, force: true });
    },
  };
}

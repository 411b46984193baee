import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { lmsiSearchAttributeKeys } from '../../workflows/search-attributes';

const root = path.resolve(__dirname, '../..');

describe('infra/temporal', () => {
  it('registers on the dev server exactly the search attributes the workflows set', () => {
    const registered = JSON.parse(
      readFileSync(path.join(root, 'infra/temporal/search-attributes.json'), 'utf8'),
    );
    const typeNames: Record<string, string> = {
      KEYWORD: 'Keyword',
      INT: 'Int',
      DOUBLE: 'Double',
      TEXT: 'Text',
      BOOL: 'Bool',
    };
    expect(registered).toEqual(
      Object.fromEntries(lmsiSearchAttributeKeys.map((k) => [k.name, typeNames[k.type] ?? k.type])),
    );
  });
});

describe('infra/temporal install', () => {
  it('skips when the pinned CLI is present and fails clearly when Go is missing', () => {
    const present = execFileSync('bash', [path.join(root, 'infra/temporal/install')], { encoding: 'utf8' });
    expect(present).toMatch(/temporal CLI already installed: .*\(go:v1\.5\.1\)/);

    const tools = mkdtempSync(path.join(os.tmpdir(), 'lmsi-tools-'));
    const noGo = spawnSync('bash', [path.join(root, 'infra/temporal/install')], {
      env: { PATH: '/usr/bin:/bin', HOME: os.tmpdir(), LMSI_TOOLS_DIR: tools },
      encoding: 'utf8',
    });
    expect(noGo.status).toBe(1);
    expect(noGo.stderr).toContain('error: Go is not installed');
    expect(noGo.stderr).toContain('https://go.dev/dl/');
  });
});

describe('infra/temporal start/stop', () => {
  // Real scripts, real server: a workflow started before a restart is still there after it.
  it('persists workflows in the SQLite file across a restart and prints the Web UI URL', async () => {
    const freePort = () =>
      new Promise<number>((resolve) => {
        const srv = net.createServer().listen(0, '127.0.0.1', () => {
          const { port } = srv.address() as { port: number };
          srv.close(() => resolve(port));
        });
      });
    const state = mkdtempSync(path.join(os.tmpdir(), 'lmsi-state-'));
    const port = await freePort();
    const uiPort = await freePort();
    const env = {
      ...process.env,
      LMSI_STATE_DIR: state,
      LMSI_TEMPORAL_PORT: String(port),
      LMSI_TEMPORAL_UI_PORT: String(uiPort),
    };
    const run = (script: string) =>
      execFileSync('bash', [path.join(root, 'infra/temporal', script)], { env, encoding: 'utf8' });
    try {
      const started = run('start');
      expect(started).toContain(`gRPC:   127.0.0.1:${port}`);
      expect(started).toContain(`Web UI: http://127.0.0.1:${uiPort}`);
      expect(existsSync(path.join(state, 'temporal/temporal.db'))).toBe(true);
      expect(run('start')).toContain('already running');

      const connect = async () => {
        const connection = await Connection.connect({ address: `127.0.0.1:${port}` });
        return { connection, client: new Client({ connection }) };
      };
      let { connection, client } = await connect();
      // No worker polls this queue: the workflow simply stays open, which is all we need.
      await client.workflow.start('snapshotDatasetWorkflow', {
        taskQueue: 'nobody-polls',
        workflowId: 'survives-restart',
        args: [{}],
      });
      await connection.close();

      expect(run('stop')).toContain('stopped');
      run('start');
      ({ connection, client } = await connect());
      const description = await client.workflow.getHandle('survives-restart').describe();
      expect(description.status.name).toBe('RUNNING');
      await client.workflow.getHandle('survives-restart').terminate('test done');
      await connection.close();
    } finally {
      run('stop');
    }
  }, 120_000);
});

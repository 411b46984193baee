import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { clearPayloadsWarning, isLoopbackAddress } from '../../client/connection';
import { collect, runLmsi, spawnLmsi } from './process';

const dir = mkdtempSync(path.join(os.tmpdir(), 'lmsi-codec-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('lmsi codec-server (a process)', () => {
  it('encodes and decodes for the Web UI with the key file, requires its token, and stops on SIGTERM', async () => {
    const keyFile = path.join(dir, 'keys.json');
    writeFileSync(
      keyFile,
      JSON.stringify({ current: 'k1', keys: { k1: randomBytes(32).toString('base64') } }),
    );
    // spawnLmsi passes the test's environment: the token is set there for this child only.
    process.env.CODEC_TOKEN = 'secret-token';
    const server = spawnLmsi(
      ['codec-server', '--key-file', keyFile, '--port', '0', '--token-env', 'CODEC_TOKEN'],
      dir,
    );
    delete process.env.CODEC_TOKEN;
    const done = collect(server, 60_000, 'lmsi codec-server');
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      server.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /codec server on (http:\/\/\S+)/.exec(out);
        if (m) resolve(m[1]);
      });
      server.on('exit', () => reject(new Error(`exited before listening: ${out}`)));
    });
    const post = (route: string, body: unknown, token = 'secret-token') =>
      fetch(`${url}${route}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(body),
      });

    const plain = { metadata: { encoding: b64('json/plain') }, data: b64('{"question":"2+3"}') };
    const encoded = (await (await post('/encode', { payloads: [plain] })).json()) as {
      payloads: { metadata: Record<string, string>; data: string }[];
    };
    expect(Buffer.from(encoded.payloads[0].metadata.encoding, 'base64').toString()).toBe('binary/encrypted');
    expect(Buffer.from(encoded.payloads[0].metadata['encryption-key-id'], 'base64').toString()).toBe('k1');
    expect(Buffer.from(encoded.payloads[0].data, 'base64').toString()).not.toContain('2+3');
    const decoded = (await (await post('/decode', encoded)).json()) as { payloads: unknown[] };
    expect(decoded.payloads).toEqual([plain]);
    expect((await post('/decode', encoded, 'wrong')).status).toBe(401);

    server.kill('SIGTERM');
    const end = await done;
    expect(end.code).toBe(0);
  }, 90_000);

  it('refuses to serve without a token unless --insecure-no-auth; allows the Web UI origin `lmsi server start` prints', async () => {
    const keyFile = path.join(dir, 'keys-2.json');
    writeFileSync(
      keyFile,
      JSON.stringify({ current: 'k1', keys: { k1: randomBytes(32).toString('base64') } }),
    );
    const refused = await runLmsi(['codec-server', '--key-file', keyFile, '--port', '0'], dir, 60_000);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('error: no token: pass --token-env NAME');
    expect(refused.stderr).toContain('--insecure-no-auth');

    // infra/temporal/env.sh's variables: the Web UI is printed as http://$LMSI_TEMPORAL_IP:$LMSI_TEMPORAL_UI_PORT.
    const ui = 'http://127.0.0.1:18233';
    const server = spawnLmsi(
      ['codec-server', '--key-file', keyFile, '--port', '0', '--insecure-no-auth'],
      dir,
      {
        LMSI_TEMPORAL_UI_PORT: '18233',
      },
    );
    const done = collect(server, 60_000, 'lmsi codec-server --insecure-no-auth');
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      server.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /codec server on (http:\/\/\S+)/.exec(out);
        if (m) resolve(m[1]);
      });
      server.on('exit', () => reject(new Error(`exited before listening: ${out}`)));
    });
    const allowed = async (origin: string) =>
      (await fetch(`${url}/decode`, { method: 'OPTIONS', headers: { origin } })).headers.get(
        'access-control-allow-origin',
      );
    expect(await allowed(ui)).toBe(ui);
    expect(await allowed('http://localhost:18233')).toBe('http://localhost:18233');
    expect(await allowed('http://evil.example')).toBe(ui);
    server.kill('SIGTERM');
    expect((await done).code).toBe(0);
  }, 90_000);

  it('lmsi run warns once when a server on another machine would get the payloads in clear', async () => {
    expect(isLoopbackAddress('127.0.0.1:7233')).toBe(true);
    expect(isLoopbackAddress('localhost:7233')).toBe(true);
    expect(isLoopbackAddress('[::1]:7233')).toBe(true);
    expect(isLoopbackAddress('temporal.internal:7233')).toBe(false);
    expect(clearPayloadsWarning({ address: '127.0.0.1:7233' }, {})).toBeNull();
    expect(clearPayloadsWarning({ address: 'temporal.internal:7233' }, { LMSI_CODEC_KEY: 'x' })).toBeNull();

    const config = path.join(dir, 'remote.json');
    writeFileSync(
      config,
      JSON.stringify({
        name: 'remote',
        model: { dir: 'model' },
        task: { name: 'arith' },
        data: { unlabeledQuestions: 'u.jsonl', evaluation: 'e.jsonl' },
        training: { steps: 1 },
      }),
    );
    // TEST-NET-1: not on this machine, and nothing answers there (the connection times out).
    const run = await runLmsi(['run', '--config', config, '--address', '192.0.2.1:7233'], dir, 60_000, {
      LMSI_CODEC_KEY: '',
      LMSI_CODEC_KEY_FILE: '',
    });
    expect(run.code).toBe(1);
    const warnings = run.stderr.split('\n').filter((l) => l.includes('no payload key is set'));
    expect(warnings).toEqual([
      "lmsi: warning: Temporal at 192.0.2.1:7233 is not on this machine and no payload key is set (LMSI_CODEC_KEY or LMSI_CODEC_KEY_FILE): the campaign's payloads, its whole config and paths included, are stored in clear in the server's history (client/README.md: payload encryption)",
    ]);
  }, 90_000);

  it('exits 2 naming the variables when no key is configured', async () => {
    const saved = { file: process.env.LMSI_CODEC_KEY_FILE, key: process.env.LMSI_CODEC_KEY };
    delete process.env.LMSI_CODEC_KEY_FILE;
    delete process.env.LMSI_CODEC_KEY;
    try {
      const run = await runLmsi(['codec-server', '--port', '0'], dir, 60_000);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('LMSI_CODEC_KEY_FILE');
    } finally {
      if (saved.file !== undefined) process.env.LMSI_CODEC_KEY_FILE = saved.file;
      if (saved.key !== undefined) process.env.LMSI_CODEC_KEY = saved.key;
    }
  }, 90_000);
});

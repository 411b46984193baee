import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
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

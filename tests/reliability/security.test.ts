import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { Client } from '@temporalio/client';
import { defaultPayloadConverter, METADATA_ENCODING_KEY, type Payload } from '@temporalio/common';
import { temporal as proto } from '@temporalio/proto';
import {
  AesGcmCodec,
  keyringFromEnv,
  keyringFromFile,
  lmsiDataConverter,
  type Keyring,
} from '../../client/codec';
import { startCodecServer } from '../../client/codec-server';
import { resolveTarget } from '../../client/connection';
import { snapshotDataset } from '../../client';
import { createLmsiWorker } from '../../workers';
import { connectTestTemporal, tempDir, workflowBundle, type TestTemporal } from '../helpers/temporal';
import { uniqueTaskQueue } from '../../testing/campaign-config';

const key = () => randomBytes(32);
const ring = (current: string, keys: Record<string, Buffer>): Keyring => ({
  current,
  keys: new Map(Object.entries(keys)),
});
const json = (v: unknown) => defaultPayloadConverter.toPayload(v);
const text = (p: Payload) => Buffer.from(p.data ?? new Uint8Array()).toString('latin1');

describe('AES-256-GCM payload codec', () => {
  const k1 = key();
  const k2 = key();

  it('encrypts whole payloads, names the key in metadata, and round-trips', async () => {
    const codec = new AesGcmCodec(ring('k1', { k1 }));
    const plain = json({ question: 'ola has 7 books', file: '/data/secret.jsonl' });
    const [sealed] = await codec.encode([plain]);
    expect(Buffer.from(sealed.metadata![METADATA_ENCODING_KEY]).toString()).toBe('binary/encrypted');
    expect(Buffer.from(sealed.metadata!['encryption-key-id']).toString()).toBe('k1');
    expect(Object.keys(sealed.metadata!)).toHaveLength(2);
    expect(text(sealed)).not.toContain('ola has 7 books');
    expect(text(sealed)).not.toContain('json/plain');
    const [again] = await codec.encode([plain]);
    expect(Buffer.compare(Buffer.from(again.data!), Buffer.from(sealed.data!))).not.toBe(0);
    const [opened] = await codec.decode([sealed]);
    expect(defaultPayloadConverter.fromPayload(opened)).toEqual({
      question: 'ola has 7 books',
      file: '/data/secret.jsonl',
    });
  });

  it('decrypts with old keys after a rotation, fails clearly on an unknown key or tampering', async () => {
    const [old] = await new AesGcmCodec(ring('k1', { k1 })).encode([json('before rotation')]);
    const rotated = new AesGcmCodec(ring('k2', { k1, k2 }));
    expect(defaultPayloadConverter.fromPayload((await rotated.decode([old]))[0])).toBe('before rotation');
    const [fresh] = await rotated.encode([json('after')]);
    expect(Buffer.from(fresh.metadata!['encryption-key-id']).toString()).toBe('k2');
    await expect(new AesGcmCodec(ring('k1', { k1 })).decode([fresh])).rejects.toThrow(
      'payload sealed with key "k2", which is not in the keyring',
    );
    const tampered = { ...fresh, data: Buffer.from(fresh.data!).fill(1, 20, 21) };
    await expect(rotated.decode([tampered])).rejects.toThrow('failed authentication');
    const wrongKey = new AesGcmCodec(ring('k2', { k2: key() }));
    await expect(wrongKey.decode([fresh])).rejects.toThrow('failed authentication');
    // Payloads that were never encrypted pass through (histories from before encryption was on).
    const clear = json('clear');
    expect((await rotated.decode([clear]))[0]).toBe(clear);
  });

  it('takes keys from the environment or a key file, off by default, never echoing a key', async () => {
    expect(keyringFromEnv({})).toBeNull();
    expect(lmsiDataConverter(null)).toBeUndefined();
    const one = keyringFromEnv({ LMSI_CODEC_KEY: k1.toString('base64'), LMSI_CODEC_KEY_ID: '2026-11' })!;
    expect(one.current).toBe('2026-11');
    expect(one.keys.get('2026-11')!.equals(k1)).toBe(true);
    const short = randomBytes(16).toString('base64');
    let err: Error | undefined;
    try {
      keyringFromEnv({ LMSI_CODEC_KEY: short });
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).toMatch(/^LMSI_CODEC_KEY: must be 32 bytes/);
    expect(err?.message).not.toContain(short);

    const dir = await tempDir('keys');
    const file = path.join(dir, 'keys.json');
    await fs.writeFile(
      file,
      JSON.stringify({ current: 'k2', keys: { k1: k1.toString('base64'), k2: k2.toString('base64') } }),
    );
    const fromFile = keyringFromEnv({ LMSI_CODEC_KEY_FILE: file })!;
    expect(fromFile.current).toBe('k2');
    expect([...fromFile.keys.keys()]).toEqual(['k1', 'k2']);
    await fs.writeFile(file, JSON.stringify({ current: 'k3', keys: { k1: k1.toString('base64') } }));
    expect(() => keyringFromFile(file)).toThrow(
      `codec key file ${file}: current: current names no key in keys`,
    );
    await fs.writeFile(file, JSON.stringify({ current: 'k1', keys: { k1: short } }));
    expect(() => keyringFromFile(file)).toThrow(`codec key file ${file}: keys.k1: must be 32 bytes`);
  });
});

describe('encrypted payloads through a real worker and server', () => {
  let temporal: TestTemporal;
  beforeAll(async () => {
    temporal = await connectTestTemporal();
  });
  afterAll(async () => {
    await temporal.close();
  });

  it('client and worker with the key: the history holds only ciphertext; a rotated client still reads it', async () => {
    const k1 = key();
    const converter = lmsiDataConverter(ring('k1', { k1 }))!;
    const root = await tempDir('codec');
    const file = path.join(root, 'questions.jsonl');
    const question = 'mia has 3 shells. mia finds 4 more shells. how many shells does mia have now?';
    await fs.writeFile(file, `${JSON.stringify({ id: 'q-1', question })}\n`);
    const taskQueue = uniqueTaskQueue('codec');
    const worker = await createLmsiWorker({
      connection: temporal.nativeConnection,
      role: 'light',
      taskQueue,
      artifactsDir: path.join(root, 'artifacts'),
      workflowBundle: await workflowBundle(),
      dataConverter: converter,
    });
    const client = new Client({ connection: temporal.client.connection, dataConverter: converter });
    const workflowId = `codec-${Date.now()}`;
    const result = await worker.runUntil(
      snapshotDataset(client, { task: 'arith', file }, { taskQueue, workflowId }),
    );
    expect(result.count).toBe(1);

    const { history } = await temporal.client.workflowService.getWorkflowExecutionHistory({
      namespace: 'default',
      execution: { workflowId },
    });
    const payloads: Payload[] = [];
    const visit = (v: unknown) => {
      if (!v || typeof v !== 'object') return;
      if (Array.isArray((v as { payloads?: unknown }).payloads))
        payloads.push(...(v as { payloads: Payload[] }).payloads);
      for (const child of Object.values(v)) visit(child);
    };
    const events = history!.events!.map((e) =>
      proto.api.history.v1.HistoryEvent.toObject(e as never, { defaults: false }),
    );
    for (const e of history!.events!) visit(e);
    expect(payloads.length).toBeGreaterThanOrEqual(4); // workflow input and result, activity input and result
    for (const p of payloads) {
      expect(Buffer.from(p.metadata![METADATA_ENCODING_KEY]).toString()).toBe('binary/encrypted');
      expect(text(p)).not.toContain(file);
      expect(text(p)).not.toContain('sha256:');
    }
    expect(JSON.stringify(events)).not.toContain(question);

    // A client without the key cannot read the result; one with a rotated keyring can.
    await expect(temporal.client.workflow.getHandle(workflowId).result()).rejects.toThrow();
    const rotated = new Client({
      connection: temporal.client.connection,
      dataConverter: lmsiDataConverter(ring('k2', { k1, k2: key() })),
    });
    expect(await rotated.workflow.getHandle(workflowId).result()).toEqual(result);
  });

  // A failure's message names the bad input (here a file whose name is the secret): with the codec,
  // message and stack travel encrypted; without, they stay readable as before.
  async function failSnapshot(converter: ReturnType<typeof lmsiDataConverter>) {
    const root = await tempDir('codec-failure');
    const marker = `secret-marker-${randomBytes(6).toString('hex')}`;
    const file = path.join(root, `${marker}.jsonl`);
    await fs.writeFile(file, ''); // empty: a non-retryable BadInput naming the file
    const taskQueue = uniqueTaskQueue('codec-failure');
    // workflowsPath, not a prebuilt bundle: the worker bundles with the converter's failureConverterPath.
    const worker = await createLmsiWorker({
      connection: temporal.nativeConnection,
      role: 'light',
      taskQueue,
      artifactsDir: path.join(root, 'artifacts'),
      dataConverter: converter,
    });
    const client = new Client({ connection: temporal.client.connection, dataConverter: converter });
    const workflowId = `codec-failure-${Date.now()}`;
    const error = await worker
      .runUntil(snapshotDataset(client, { task: 'arith', file }, { taskQueue, workflowId }))
      .then(
        () => undefined,
        (e: unknown) => e as Error & { cause?: Error & { cause?: Error } },
      );
    const { history } = await temporal.client.workflowService.getWorkflowExecutionHistory({
      namespace: 'default',
      execution: { workflowId },
    });
    const raw = JSON.stringify(
      history!.events!.map((e) =>
        proto.api.history.v1.HistoryEvent.toObject(e as never, { defaults: false }),
      ),
    );
    const messages: string[] = [];
    for (let e: (Error & { cause?: unknown }) | undefined = error; e; e = e.cause as typeof e)
      messages.push(e.message);
    const encoded: Payload[] = [];
    const visit = (v: unknown) => {
      if (!v || typeof v !== 'object') return;
      const attrs = (v as { encodedAttributes?: Payload }).encodedAttributes;
      if (attrs) encoded.push(attrs);
      for (const child of Object.values(v)) visit(child);
    };
    for (const e of history!.events!) visit(e);
    return { marker, raw, messages, encoded };
  }

  it('with the key, failure messages and stacks are encrypted in history; the client reads them', async () => {
    const k1 = key();
    const { marker, raw, messages, encoded } = await failSnapshot(lmsiDataConverter(ring('k1', { k1 })));
    expect(messages.join('\n')).toContain(marker);
    expect(raw).toContain('Encoded failure');
    expect(raw).not.toContain(marker);
    expect(raw).not.toContain('failures.ts'); // no plaintext stack trace either
    expect(encoded.length).toBeGreaterThan(0);
    for (const p of encoded)
      expect(Buffer.from(p.metadata![METADATA_ENCODING_KEY]).toString()).toBe('binary/encrypted');

    // The codec server opens them for the Web UI like any other payload.
    const { server, url } = await startCodecServer({ codec: new AesGcmCodec(ring('k1', { k1 })), port: 0 });
    try {
      const response = await fetch(`${url}/decode`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({
          payloads: encoded.map((p) => ({
            metadata: Object.fromEntries(
              Object.entries(p.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
            ),
            data: Buffer.from(p.data!).toString('base64'),
          })),
        }),
      });
      expect(response.status).toBe(200);
      const { payloads } = (await response.json()) as { payloads: { data: string }[] };
      const opened = payloads.map((p) => Buffer.from(p.data, 'base64').toString());
      expect(opened.join('\n')).toContain(marker);
      expect(JSON.parse(opened[0])).toEqual(
        expect.objectContaining({ message: expect.any(String), stack_trace: expect.any(String) }),
      );
    } finally {
      server.close();
    }
  });

  it('without a key, failures are stored and read in clear, as before', async () => {
    const { marker, raw, messages } = await failSnapshot(undefined);
    expect(messages.join('\n')).toContain(marker);
    expect(raw).toContain(marker);
    expect(raw).not.toContain('Encoded failure');
  });
});

describe('codec server for the Web UI', () => {
  it('decodes and encodes over HTTP with CORS for the UI and an optional bearer token', async () => {
    const codec = new AesGcmCodec(ring('k1', { k1: key() }));
    const { server, url } = await startCodecServer({
      codec,
      port: 0,
      corsOrigin: 'http://localhost:8233',
      token: 't0k',
    });
    try {
      const toJson = (p: Payload) => ({
        metadata: Object.fromEntries(
          Object.entries(p.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
        ),
        data: Buffer.from(p.data!).toString('base64'),
      });
      const [sealed] = await codec.encode([json({ answer: '8' })]);
      const post = (route: string, body: unknown, token = 't0k') =>
        fetch(`${url}${route}`, {
          method: 'POST',
          headers: {
            'Content-Type': 'application/json',
            Authorization: `Bearer ${token}`,
            'X-Namespace': 'default',
          },
          body: JSON.stringify(body),
        });
      const decoded = await post('/decode', { payloads: [toJson(sealed)] });
      expect(decoded.status).toBe(200);
      expect(decoded.headers.get('access-control-allow-origin')).toBe('http://localhost:8233');
      const [opened] = ((await decoded.json()) as { payloads: { data: string }[] }).payloads;
      expect(JSON.parse(Buffer.from(opened.data, 'base64').toString())).toEqual({ answer: '8' });

      const encoded = await post('/encode', { payloads: [toJson(json('x'))] });
      const [enc] = ((await encoded.json()) as { payloads: { metadata: Record<string, string> }[] }).payloads;
      expect(Buffer.from(enc.metadata.encoding, 'base64').toString()).toBe('binary/encrypted');

      expect((await post('/decode', { payloads: [] }, 'wrong')).status).toBe(401);
      expect((await post('/decode', { nope: 1 })).status).toBe(400);
      const preflight = await fetch(`${url}/decode`, { method: 'OPTIONS' });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-headers')).toContain('X-Namespace');
    } finally {
      server.close();
    }
  });
});

describe('TLS and API key through Temporal environment configuration', () => {
  it('a temporal.toml profile with TLS and an API key reaches the connection options', async () => {
    const dir = await tempDir('envconfig');
    const file = path.join(dir, 'temporal.toml');
    const cert = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';
    const certFile = path.join(dir, 'client.pem');
    await fs.writeFile(certFile, cert);
    await fs.writeFile(
      file,
      [
        '[profile.prod]',
        'address = "lmsi-prod.example.tmprl.cloud:7233"',
        'namespace = "lmsi-prod.example"',
        'api_key = "test-api-key"',
        '[profile.prod.tls]',
        `client_cert_path = "${certFile}"`,
        'client_key_data = "-----BEGIN PRIVATE KEY-----\\nMIIfake\\n-----END PRIVATE KEY-----\\n"',
        'server_name = "lmsi-prod.example.tmprl.cloud"',
        '',
      ].join('\n'),
    );
    const saved = process.env.TEMPORAL_CONFIG_FILE;
    process.env.TEMPORAL_CONFIG_FILE = file;
    try {
      const { connectionOptions, namespace } = resolveTarget({ profile: 'prod' });
      expect(namespace).toBe('lmsi-prod.example');
      expect(connectionOptions.address).toBe('lmsi-prod.example.tmprl.cloud:7233');
      expect(connectionOptions.apiKey).toBe('test-api-key');
      const tls = connectionOptions.tls as {
        serverNameOverride?: string;
        clientCertPair?: { crt: Buffer; key: Buffer };
      };
      expect(tls.serverNameOverride).toBe('lmsi-prod.example.tmprl.cloud');
      expect(Buffer.from(tls.clientCertPair!.crt).toString()).toBe(cert);
      expect(Buffer.from(tls.clientCertPair!.key).toString()).toContain('PRIVATE KEY');
      // Explicit flags win over the profile.
      expect(resolveTarget({ profile: 'prod', address: 'localhost:7233' }).connectionOptions.address).toBe(
        'localhost:7233',
      );
    } finally {
      if (saved === undefined) delete process.env.TEMPORAL_CONFIG_FILE;
      else process.env.TEMPORAL_CONFIG_FILE = saved;
    }
  });
});

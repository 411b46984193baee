import * as http from 'node:http';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { z } from 'zod';

/**
 * Temporal's remote codec endpoint, so the Web UI (and `temporal` CLI) can show decrypted payloads
 * without the key ever reaching the server: POST /decode and /encode with
 * `{"payloads": [{"metadata": {k: base64}, "data": base64}]}`. Bind it to localhost (the default)
 * or put it behind TLS and auth: whoever reaches it can decrypt.
 */
export interface CodecServerOptions {
  codec: PayloadCodec;
  port?: number;
  host?: string;
  /**
   * The Web UI's origin (CORS), e.g. http://127.0.0.1:8233, or several (the one a request comes from
   * is allowed when listed, as a browser accepts one origin per response).
   */
  corsOrigin?: string | string[];
  /** When set, requests must carry `Authorization: Bearer <token>`. */
  token?: string;
}

const JsonPayloads = z.object({
  payloads: z.array(
    z.object({ metadata: z.record(z.string(), z.string()).optional(), data: z.string().optional() }),
  ),
});
type JsonPayload = z.infer<typeof JsonPayloads>['payloads'][number];

const fromJson = (p: JsonPayload): Payload => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')]),
  ),
  data: Buffer.from(p.data ?? '', 'base64'),
});
const toJson = (p: Payload): JsonPayload => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [
      k,
      Buffer.from(v ?? new Uint8Array()).toString('base64'),
    ]),
  ),
  data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
});

const MAX_BODY = 32 * 1024 * 1024;

export function createCodecServer(options: CodecServerOptions): http.Server {
  return http.createServer((req, res) => {
    void handle(options, req, res).catch((e: unknown) => {
      // The message only: never the body (payloads) in a response or a log.
      send(res, 400, { message: e instanceof Error ? e.message : 'bad request' }, options, req);
    });
  });
}

export async function startCodecServer(
  options: CodecServerOptions,
): Promise<{ server: http.Server; url: string }> {
  const server = createCodecServer(options);
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve) => server.listen(options.port ?? 8888, host, resolve));
  const { port } = server.address() as { port: number };
  return { server, url: `http://${host}:${port}` };
}

async function handle(options: CodecServerOptions, req: http.IncomingMessage, res: http.ServerResponse) {
  if (req.method === 'OPTIONS') return send(res, 204, null, options, req);
  const route = (req.url ?? '').split('?')[0].replace(/\/+$/, '');
  if (req.method !== 'POST' || !(route.endsWith('/decode') || route.endsWith('/encode'))) {
    return send(res, 404, { message: 'POST /encode or /decode' }, options, req);
  }
  if (options.token !== undefined && req.headers.authorization !== `Bearer ${options.token}`) {
    return send(res, 401, { message: 'unauthorized' }, options, req);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) return send(res, 413, { message: 'body too large' }, options, req);
    chunks.push(chunk as Buffer);
  }
  const parsed = JsonPayloads.safeParse(JSON.parse(Buffer.concat(chunks).toString('utf8')));
  if (!parsed.success) return send(res, 400, { message: 'expected {"payloads": [...]}' }, options, req);
  const payloads = parsed.data.payloads.map(fromJson);
  const out = route.endsWith('/decode')
    ? await options.codec.decode(payloads)
    : await options.codec.encode(payloads);
  send(res, 200, { payloads: out.map(toJson) }, options, req);
}

/** The origin to allow in a response: the request's when it is one of the configured ones. */
function allowedOrigin(options: CodecServerOptions, req?: http.IncomingMessage): string | undefined {
  const origins = typeof options.corsOrigin === 'string' ? [options.corsOrigin] : (options.corsOrigin ?? []);
  const from = req?.headers.origin;
  return from !== undefined && origins.includes(from) ? from : origins[0];
}

function send(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  options: CodecServerOptions,
  req?: http.IncomingMessage,
) {
  const origin = allowedOrigin(options, req);
  if (origin) {
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Vary', 'Origin');
    res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
    res.setHeader('Access-Control-Allow-Headers', 'Content-Type, X-Namespace, Authorization');
    res.setHeader('Access-Control-Allow-Credentials', 'true');
  }
  if (body === null) {
    res.writeHead(status).end();
    return;
  }
  res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
}

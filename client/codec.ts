import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  METADATA_ENCODING_KEY,
  type DataConverter,
  type Payload,
  type PayloadCodec,
} from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { z } from 'zod';

/** Payload metadata of an encrypted payload: the encoding, and which key sealed it. */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Keys by id; `current` encrypts, every key decrypts (so payloads sealed before a rotation still open). */
export interface Keyring {
  current: string;
  keys: Map<string, Buffer>;
}

const Key = z
  .string()
  .transform((s) => Buffer.from(s, 'base64'))
  .refine((b) => b.length === 32, 'must be 32 bytes, base64-encoded (openssl rand -base64 32)');
const KeyId = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, . _ - (at most 64)');

/** The key file: `{"current": "2026-11", "keys": {"2026-11": "<base64>", "2026-05": "<base64>"}}`. */
const KeyFile = z
  .strictObject({ current: KeyId, keys: z.record(KeyId, Key) })
  .refine((f) => f.current in f.keys, { message: 'current names no key in keys', path: ['current'] });

/**
 * AES-256-GCM over whole payloads: the serialised Payload (metadata and data) is encrypted with a
 * fresh 96-bit IV, so nothing of the original, not even its encoding, is visible to the server. The
 * key id travels in clear metadata so that a rotated keyring still finds the key that sealed it.
 */
export class AesGcmCodec implements PayloadCodec {
  // A private field: util.inspect (the SDK logs worker options at DEBUG) never prints it.
  readonly #keyring: Keyring;

  constructor(keyring: Keyring) {
    if (!keyring.keys.has(keyring.current))
      throw new Error(`codec: no key "${keyring.current}" in the keyring`);
    this.#keyring = keyring;
  }

  get keyId(): string {
    return this.#keyring.current;
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const key = this.#keyring.keys.get(this.#keyring.current)!;
    return payloads.map((payload) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv(ALGORITHM, key, iv);
      const plain = temporal.api.common.v1.Payload.encode(payload).finish();
      const sealed = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: {
          [METADATA_ENCODING_KEY]: Buffer.from(ENCRYPTED_ENCODING),
          [KEY_ID_METADATA]: Buffer.from(this.#keyring.current),
        },
        data: sealed,
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const encoding = payload.metadata?.[METADATA_ENCODING_KEY];
      if (!encoding || Buffer.from(encoding).toString() !== ENCRYPTED_ENCODING) return payload;
      const idBytes = payload.metadata?.[KEY_ID_METADATA];
      const keyId = idBytes ? Buffer.from(idBytes).toString() : '';
      const key = this.#keyring.keys.get(keyId);
      if (!key) throw new Error(`codec: payload sealed with key "${keyId}", which is not in the keyring`);
      const data = Buffer.from(payload.data ?? new Uint8Array());
      if (data.length < IV_BYTES + TAG_BYTES) throw new Error('codec: encrypted payload too short');
      const decipher = createDecipheriv(ALGORITHM, key, data.subarray(0, IV_BYTES));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      let plain: Buffer;
      try {
        plain = Buffer.concat([
          decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)),
          decipher.final(),
        ]);
      } catch {
        throw new Error(
          `codec: payload sealed with key "${keyId}" failed authentication (tampered or wrong key)`,
        );
      }
      return temporal.api.common.v1.Payload.decode(plain);
    });
  }
}

export function keyringFromFile(file: string): Keyring {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`codec key file ${file}: ${(e as NodeJS.ErrnoException).code ?? 'not valid JSON'}`);
  }
  const parsed = KeyFile.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    // Never echo the input: it holds keys.
    throw new Error(`codec key file ${file}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return { current: parsed.data.current, keys: new Map(Object.entries(parsed.data.keys)) };
}

/**
 * The keyring configured in the environment, or null (encryption off, the default):
 *   LMSI_CODEC_KEY_FILE  a key file (several keys, for rotation), or
 *   LMSI_CODEC_KEY       one base64 key, with LMSI_CODEC_KEY_ID (default "default").
 */
export function keyringFromEnv(env: NodeJS.ProcessEnv = process.env): Keyring | null {
  if (env.LMSI_CODEC_KEY_FILE) return keyringFromFile(env.LMSI_CODEC_KEY_FILE);
  if (env.LMSI_CODEC_KEY) {
    const id = KeyId.safeParse(env.LMSI_CODEC_KEY_ID ?? 'default');
    if (!id.success) throw new Error(`LMSI_CODEC_KEY_ID: ${id.error.issues[0].message}`);
    const key = Key.safeParse(env.LMSI_CODEC_KEY);
    if (!key.success) throw new Error(`LMSI_CODEC_KEY: ${key.error.issues[0].message}`);
    return { current: id.data, keys: new Map([[id.data, key.data]]) };
  }
  return null;
}

/** The module of the failure converter that encodes failure messages (client/failure-converter.ts). */
export const encodedFailureConverterPath = require.resolve('./failure-converter');

/**
 * The data converter of clients and workers: with a keyring, every payload is encrypted, and so are
 * failure messages and stack traces (moved into an encoded payload: the server shows "Encoded
 * failure"; a client or codec server with the key reads the original); without, Temporal's default.
 * A workflow bundle built ahead (bundleWorkflowCode) needs the same `failureConverterPath`.
 */
export function lmsiDataConverter(keyring: Keyring | null = keyringFromEnv()): DataConverter | undefined {
  if (!keyring) return undefined;
  return { payloadCodecs: [new AesGcmCodec(keyring)], failureConverterPath: encodedFailureConverterPath };
}

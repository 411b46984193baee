import type { Command } from 'commander';
import { AesGcmCodec, keyringFromEnv, keyringFromFile } from '../client/codec';
import { startCodecServer } from '../client/codec-server';

/**
 * The Web UI's origins as `lmsi server start` prints it (infra/temporal/env.sh: LMSI_TEMPORAL_IP,
 * LMSI_TEMPORAL_UI_PORT, default the gRPC port + 1000), and the same port on localhost, which a
 * browser treats as another origin.
 */
export function webUiOrigins(env: NodeJS.ProcessEnv = process.env): string[] {
  const ip = env.LMSI_TEMPORAL_IP || '127.0.0.1';
  const port = env.LMSI_TEMPORAL_UI_PORT || String(Number(env.LMSI_TEMPORAL_PORT || 7233) + 1000);
  return [...new Set([`http://${ip}:${port}`, `http://localhost:${port}`])];
}

/**
 * `lmsi codec-server`: the remote codec endpoint for the Web UI (Settings → Codec Server → its URL),
 * so encrypted payloads show decrypted in the browser while the key stays on this machine.
 */
export function registerCodecServerCommand(program: Command): void {
  program
    .command('codec-server')
    .description('serve /encode and /decode for the Temporal Web UI with the payload encryption key')
    .option('--key-file <file>', 'key file (default: LMSI_CODEC_KEY_FILE or LMSI_CODEC_KEY)')
    .option('--port <port>', 'port', (v) => Number.parseInt(v, 10), 8888)
    .option('--host <host>', 'address to bind (anyone who reaches it can decrypt)', '127.0.0.1')
    .option(
      '--cors-origin <origin...>',
      "the Web UI's origin(s) (default: the Web UI address `lmsi server start` prints, and its localhost alias)",
    )
    .option('--token-env <name>', 'require `Authorization: Bearer $<name>` on every request')
    .option(
      '--insecure-no-auth',
      'serve without a token: anyone who reaches the port can decrypt every payload (a single-user machine only)',
    )
    .action(
      async (opts: {
        keyFile?: string;
        port: number;
        host: string;
        corsOrigin?: string[];
        tokenEnv?: string;
        insecureNoAuth?: boolean;
      }) => {
        const keyring = opts.keyFile ? keyringFromFile(opts.keyFile) : keyringFromEnv();
        if (!keyring) {
          console.error('error: no key: pass --key-file or set LMSI_CODEC_KEY_FILE / LMSI_CODEC_KEY');
          process.exitCode = 2;
          return;
        }
        // Secure by default: a codec server decrypts for whoever asks, so it asks for a token.
        if (!opts.tokenEnv && !opts.insecureNoAuth) {
          console.error(
            'error: no token: pass --token-env NAME (requests then need `Authorization: Bearer $NAME`; set the same token in the Web UI codec settings), or --insecure-no-auth to let anyone who reaches the port decrypt',
          );
          process.exitCode = 2;
          return;
        }
        const token = opts.tokenEnv ? process.env[opts.tokenEnv] : undefined;
        if (opts.tokenEnv && !token) {
          console.error(`error: --token-env ${opts.tokenEnv}: the variable is not set`);
          process.exitCode = 2;
          return;
        }
        const { server, url } = await startCodecServer({
          codec: new AesGcmCodec(keyring),
          port: opts.port,
          host: opts.host,
          corsOrigin: opts.corsOrigin ?? webUiOrigins(),
          token,
        });
        console.log(`codec server on ${url} (key ${keyring.current}); set it in the Web UI's codec settings`);
        const stop = () => server.close(() => process.exit(0));
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      },
    );
}

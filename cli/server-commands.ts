import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import type { Command } from 'commander';

const infra = path.resolve(
  __dirname,
  '..',
  ...(path.basename(path.dirname(__dirname)) === 'dist' ? ['..'] : []),
  'infra/temporal',
);

function runScript(name: string): void {
  const run = spawnSync('bash', [path.join(infra, name)], { stdio: 'inherit' });
  process.exitCode = run.status ?? 1;
}

export function registerServerCommands(program: Command): void {
  const server = program
    .command('server')
    .description('the embedded Temporal dev server (SQLite under .state/)');
  server
    .command('start')
    .description('start it in the background; prints the gRPC address and the Web UI URL')
    .action(() => runScript('start'));
  server
    .command('stop')
    .description('stop it (workflows are kept in its database)')
    .action(() => runScript('stop'));
}

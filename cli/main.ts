#!/usr/bin/env node
import { Command } from 'commander';
import { registerConfigCommands } from './config-commands';
import { registerWorkerCommands } from './worker-commands';

const program = new Command()
  .name('lmsi')
  .description('Large Language Model Self-Improvement as durable Temporal workflows')
  .showHelpAfterError();

registerConfigCommands(program);
registerWorkerCommands(program);

program.parseAsync(process.argv).catch((e: unknown) => {
  process.stderr.write(`lmsi: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});

#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { isBadInputError } from '../base/errors';
import { registerAuditCommands } from './audit-commands';
import { registerCodecServerCommand } from './codec-server-command';
import { registerCampaignCommands } from './campaign-commands';
import { registerConfigCommands } from './config-commands';
import { registerFinetuneCommand } from './finetune-command';
import { registerModelCheckCommand } from './model-check-command';
import { registerModelCommands } from './model-commands';
import { registerModelInitCommand } from './model-init-command';
import { registerReportCommands } from './report-commands';
import { registerServerCommands } from './server-commands';
import { registerWorkerCommands } from './worker-commands';

/** Exit codes: 0 ok, 1 failure, 2 usage. */
const program = new Command()
  .name('lmsi')
  .description('Large Language Model Self-Improvement as durable Temporal workflows')
  .showHelpAfterError()
  .exitOverride();

registerServerCommands(program);
registerWorkerCommands(program);
registerCampaignCommands(program);
registerModelCommands(program);
registerModelCheckCommand(registerModelInitCommand(program));
registerFinetuneCommand(program);
registerConfigCommands(program);
registerReportCommands(program);
registerAuditCommands(program);
registerCodecServerCommand(program);

program.parseAsync(process.argv).catch((e: unknown) => {
  if (e instanceof CommanderError) {
    process.exitCode = e.exitCode === 0 ? 0 : 2;
    return;
  }
  process.stderr.write(
    `lmsi: ${isBadInputError(e) || !(e instanceof Error) ? String((e as Error).message ?? e) : e.message}\n`,
  );
  process.exitCode = 1;
});

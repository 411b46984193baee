import { Connection, Client } from '@temporalio/client';
import { roundStepSeconds } from './client/step-times';
(async () => {
  const client = new Client({ connection: await Connection.connect({ address: '127.0.0.1:46877' }) });
  for (const r of [0, 1]) console.log(r, await roundStepSeconds(client, process.argv[2], r).catch((e) => String(e)));
})();

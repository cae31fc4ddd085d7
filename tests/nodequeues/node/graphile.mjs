// graphile-worker's own API, driven by the tests: `setup` runs its migrations, `send` adds jobs,
// `work` runs graphile-worker's own runner until SIGTERM, printing one JSON line per task call.
// usage: node graphile.mjs DSN setup|send|work JSON
import { existsSync } from 'node:fs';
import { makeWorkerUtils, run, Logger } from 'graphile-worker';

const [dsn, command, arg = '{}'] = process.argv.slice(2);
const opts = JSON.parse(arg);
const quiet = new Logger(() => (level, message) => { if (level === 'error') console.error(message); });

if (command === 'setup' || command === 'send') {
  const utils = await makeWorkerUtils({ connectionString: dsn, logger: quiet });
  await utils.migrate();
  if (command === 'send') {
    const ids = [];
    for (const j of opts.jobs) {
      const job = await utils.addJob(j.task, j.payload ?? {}, j.options ?? {});
      ids.push(job.id);
    }
    console.log(JSON.stringify({ ids }));
  }
  await utils.release();
} else if (command === 'work') {
  // A job whose payload has fail: true throws while the file named by opts.fail_while exists.
  const task = (name) => async (payload, helpers) => {
    const failing = payload?.fail === true && opts.fail_while && existsSync(opts.fail_while);
    console.log(JSON.stringify({ id: helpers.job.id, task: name, outcome: failing ? 'failed' : 'completed' }));
    if (failing) throw new Error(payload.error ?? 'boom');
  };
  const taskList = Object.fromEntries(opts.tasks.map((t) => [t, task(t)]));
  const runner = await run({
    connectionString: dsn, concurrency: 2, pollInterval: 200, noHandleSignals: true,
    logger: quiet, taskList, crontab: '',
  });
  console.log(JSON.stringify({ ready: true }));
  const stop = async () => { await runner.stop(); process.exit(0); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  await runner.promise;
} else {
  console.error(`unknown command ${command}`);
  process.exit(2);
}

// pg-boss's own API, driven by the tests: `setup` creates its schema and queues, `send` enqueues,
// `work` runs pg-boss's own worker until SIGTERM, printing one JSON line per handler call.
// usage: node pgboss.mjs DSN setup|send|work JSON
import { PgBoss } from 'pg-boss';

const [dsn, command, arg = '{}'] = process.argv.slice(2);
const opts = JSON.parse(arg);
const boss = new PgBoss({ connectionString: dsn, application_name: 'pgboss-test' });
boss.on('error', (e) => console.error('pg-boss error:', e.message));

if (command === 'setup') {
  await boss.start();
  // queues: [{name, options}] — options as createQueue takes them (partition: true gives a table of its own)
  for (const q of opts.queues ?? []) await boss.createQueue(q.name, q.options ?? {});
  await boss.stop({ graceful: false });
} else if (command === 'send') {
  await boss.start();
  const ids = [];
  for (const j of opts.jobs) ids.push(await boss.send(j.queue, j.data ?? {}, j.options ?? {}));
  console.log(JSON.stringify({ ids }));
  await boss.stop({ graceful: false });
} else if (command === 'work') {
  // A job whose data has fail: true throws while the file named by opts.fail_while exists, so the
  // test decides when the "bug" is fixed and the same jobs succeed on retry.
  const { existsSync } = await import('node:fs');
  await boss.start();
  for (const queue of opts.queues) {
    await boss.work(queue, { pollingIntervalSeconds: 0.5, batchSize: 1 }, async ([job]) => {
      const failing = job.data?.fail === true && opts.fail_while && existsSync(opts.fail_while);
      console.log(JSON.stringify({ id: job.id, queue, outcome: failing ? 'failed' : 'completed' }));
      if (failing) throw new Error(job.data.error ?? 'boom');
      return { ok: true };
    });
  }
  console.log(JSON.stringify({ ready: true }));
  const stop = async () => { await boss.stop({ graceful: true, timeout: 5000 }); process.exit(0); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  console.error(`unknown command ${command}`);
  process.exit(2);
}

// The peer a Node team would pick instead of hooklog: a BullMQ queue on
// Redis and a pool of worker processes, each job signed with the
// standardwebhooks library and POSTed with fetch. scripts/bench.sh peers runs
// it against the same hooklog-receiver, at the same concurrency, beside
// hooklog-load.
//
//   node peer.mjs worker   REDIS_PORT URL SECRET CONCURRENCY
//   node peer.mjs produce  REDIS_PORT EVENTS
//
// `produce` enqueues EVENTS jobs (the same ~200-byte envelope as
// hooklog-load), waits until every one is completed (or failed for good) and
// prints one JSON line: deliveries, seconds (first enqueue -> last
// completion) and deliveries_per_s. A job is retried (5 attempts,
// exponential backoff) when the receiver does not answer 2xx, as a webhook
// worker would.
import { Queue, Worker } from 'bullmq';
import IORedis from 'ioredis';
import { Webhook } from 'standardwebhooks';

const [mode, redisPort, ...rest] = process.argv.slice(2);
// BullMQ 6 in an ES module takes a constructed client; workers need
// maxRetriesPerRequest null (their blocking commands wait indefinitely).
const connection = new IORedis({ host: '127.0.0.1', port: Number(redisPort),
                                 maxRetriesPerRequest: null,
                                 retryStrategy: () => null });
// A benchmark process must not outlive its Redis (no reconnect loop).
connection.on('end', () => process.exit(0));
const QUEUE = 'webhooks';

function usage() {
  console.error('usage: node peer.mjs worker REDIS_PORT URL SECRET CONCURRENCY\n' +
                '       node peer.mjs produce REDIS_PORT EVENTS');
  process.exit(2);
}

if (mode === 'worker') {
  const [url, secret, concurrency] = rest;
  if (!url || !secret || !(Number(concurrency) > 0)) usage();
  const wh = new Webhook(secret);
  const worker = new Worker(QUEUE, async (job) => {
    const { id, type, data } = job.data;
    const now = new Date();
    const body = JSON.stringify({ id, type, created_at: now.toISOString(), data });
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'webhook-id': id,
        'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
        'webhook-signature': wh.sign(id, now, body),
      },
      body,
    });
    await res.arrayBuffer();
    if (res.status < 200 || res.status > 299) throw new Error(`HTTP ${res.status}`);
  }, { connection, concurrency: Number(concurrency) });
  // A benchmark worker stops at once: no graceful drain, and an error (Redis
  // gone, say) ends it rather than looping on reconnects and logging.
  worker.on('error', (e) => { console.error(`worker: ${e.message}`); process.exit(1); });
  process.on('SIGTERM', () => process.exit(0));
  process.on('SIGINT', () => process.exit(0));
} else if (mode === 'produce') {
  const events = Number(rest[0]);
  if (!(events > 0)) usage();
  const queue = new Queue(QUEUE, { connection });
  await queue.obliterate({ force: true });
  const payload = { order: 0, amount_cents: 4200, currency: 'EUR',
                    customer: 'cus_0123456789', note: 'x'.repeat(40) };
  const start = process.hrtime.bigint();
  const chunk = 1000;
  for (let i = 0; i < events; i += chunk) {
    const jobs = [];
    for (let j = i; j < Math.min(events, i + chunk); ++j) {
      jobs.push({
        name: 'deliver',
        data: { id: `evt_${j}`, type: `load.${j % 4}`, data: { ...payload, order: j } },
        opts: { attempts: 5, backoff: { type: 'exponential', delay: 100 },
                removeOnComplete: true, removeOnFail: false },
      });
    }
    await queue.addBulk(jobs);
  }
  // removeOnComplete keeps Redis small; completion is "nothing left in any
  // state but failed".
  for (;;) {
    const c = await queue.getJobCounts('wait', 'active', 'delayed',
                                       'prioritized', 'waiting-children', 'failed');
    const left = c.wait + c.active + c.delayed + c.prioritized + c['waiting-children'];
    if (left === 0) {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const delivered = events - c.failed;
      console.log(JSON.stringify({ peer: 'bullmq', events, delivered, failed: c.failed,
                                   seconds: Number(seconds.toFixed(3)),
                                   deliveries_per_s: Number((delivered / seconds).toFixed(1)) }));
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await queue.close();
  process.exit(0);
} else {
  usage();
}

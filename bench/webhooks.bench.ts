import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type autocannon from 'autocannon';
import pg from 'pg';
import { createDb } from '../packages/db/src/pool.js';
import { issueInvoice } from '../packages/ledger/src/index.js';
import { processCpuSeconds, selfCpuSeconds } from './lib/cpu.js';
import { compareUrls, loadSettings, type LoadSettings } from './lib/load.js';
import { repoRoot, resultsDir } from './lib/paths.js';
import { freePorts } from './lib/ports.js';
import { startProcess, waitForUrl, type ManagedProcess } from './lib/process.js';
import { checkRows, cpuRows, loadProblems } from './lib/report.js';
import { clearQueueKeys, recreateDatabase } from './lib/scratch-data.js';
import { REDIS_URL, startCaddy } from './lib/stack.js';
import { BenchFailure, type Benchmark, type BenchRow } from './lib/types.js';

/** A database of this benchmark's own, dropped and recreated on every run so every count is exact. */
const DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/bursar_bench_webhooks';
/** A queue prefix of its own: its keys are deleted at the start of a run (never anyone else's). */
const QUEUE_PREFIX = '{bursar-bench-webhooks}';
const SECRET = 'bench_razorpay_webhook_secret';
/** Invoices the payments are spread over, so the worker's invoice locks are not one hot row. */
const INVOICES = 200;
/** Each webhook pays this much (paise); invoices are issued large enough for every pre-signed one. */
const PAYMENT_MINOR = 100;
/**
 * Pre-signed webhooks per second of each run: above what a bare express POST
 * behind Caddy does on the development machine (about 6,500 req/s), so the
 * pool does not run dry. If it does, the run repeats events and says so.
 */
const POOL_RATE = 8_000;
const SERVICE_ARGS = ['--import', 'tsx', '--import', '@bursar/platform/register-telemetry', 'src/main.ts'];

interface SignedEvent {
  eventId: string;
  paymentId: string;
  body: string;
  signature: string;
}

/** The root Caddyfile with `/bare/*` routed to the bare server, next to `/api/*` (as `statements` does). */
function benchCaddyfile(): string {
  const source = readFileSync(join(repoRoot, 'Caddyfile'), 'utf8');
  const anchor = /^([ \t]*)handle \/api\/\* \{$/m;
  if (!anchor.test(source)) {
    throw new Error('the root Caddyfile has no `handle /api/* {` line to add /bare/* next to');
  }
  return source.replace(
    anchor,
    (line, indent: string) =>
      `${indent}handle /bare/* {\n${indent}\treverse_proxy {$BARE_UPSTREAM}\n${indent}}\n${line}`,
  );
}

/** Today in UTC as YYYY-MM-DD, and `days` later: the invoices are dated from the day the run happens. */
function isoDay(days = 0): string {
  return new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);
}

/** One school, INVOICES students with one open invoice each, issued through the ledger. */
async function seedInvoices(
  db: ReturnType<typeof createDb>,
  amountMinor: bigint,
): Promise<{ schoolId: string; invoices: { id: string; number: string }[] }> {
  const school = await db
    .insertInto('schools')
    .values({ name: 'Bench School', currency: 'INR', timezone: 'UTC', locale: 'en-IN' })
    .returning('id')
    .executeTakeFirstOrThrow();
  const invoices: { id: string; number: string }[] = [];
  for (let i = 0; i < INVOICES; i++) {
    const student = await db
      .insertInto('students')
      .values({ schoolId: school.id, firstName: 'Bench', lastName: `Payer ${i}`, admissionNo: `B-${i}` })
      .returning('id')
      .executeTakeFirstOrThrow();
    const id = await db.transaction().execute((trx) =>
      issueInvoice(trx, {
        schoolId: school.id,
        studentId: student.id,
        issueDate: isoDay(0),
        dueDate: isoDay(14),
        lines: [{ description: 'Tuition', quantity: 1, unitAmountMinor: amountMinor }],
      }),
    );
    const { number } = await db
      .selectFrom('invoices')
      .select('number')
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    invoices.push({ id, number });
  }
  return { schoolId: school.id, invoices };
}

/**
 * `count` unique Razorpay `payment.captured` webhooks, signed now so the load
 * generator spends nothing on HMACs: each a different payment (`pay_` id and
 * event id) of PAYMENT_MINOR on one of the run's invoices, round-robin.
 */
function signEvents(
  run: number,
  count: number,
  schoolId: string,
  invoices: { id: string; number: string }[],
  offset: number,
): SignedEvent[] {
  const now = Math.floor(Date.now() / 1000);
  const events: SignedEvent[] = [];
  for (let i = 0; i < count; i++) {
    const invoice = invoices[(offset + i) % invoices.length]!;
    const paymentId = `pay_bench${run}x${i}`;
    const body = JSON.stringify({
      entity: 'event',
      account_id: 'acc_BenchAccount01',
      event: 'payment.captured',
      contains: ['payment'],
      payload: {
        payment: {
          entity: {
            id: paymentId,
            entity: 'payment',
            amount: PAYMENT_MINOR,
            currency: 'INR',
            status: 'captured',
            order_id: `order_bench${run}x${i}`,
            method: 'upi',
            captured: true,
            notes: { invoiceId: invoice.id, schoolId, invoiceNumber: invoice.number },
            created_at: now,
          },
        },
      },
      created_at: now,
    });
    events.push({
      eventId: `evt_bench${run}x${i}`,
      paymentId,
      body,
      signature: createHmac('sha256', SECRET).update(body).digest('hex'),
    });
  }
  return events;
}

interface Tracking {
  /** Each event the value target sent, by id, with the status it was answered (0 while in flight). */
  statuses: Map<string, number>;
  paymentIds: Map<string, string>;
  lastResponseAt: number;
  repeats: number;
}

/** Requests that post a run's pre-signed webhooks one after the other, on every connection. */
function webhookRequests(
  pool: SignedEvent[],
  path: string,
  tracking: Tracking | undefined,
): autocannon.Request[] {
  let next = 0;
  return [
    {
      method: 'POST',
      path,
      setupRequest: (request, context) => {
        if (next >= pool.length && tracking) tracking.repeats++;
        const event = pool[next++ % pool.length]!;
        (context as { eventId?: string }).eventId = event.eventId;
        if (tracking) {
          if (!tracking.statuses.has(event.eventId)) tracking.statuses.set(event.eventId, 0);
          tracking.paymentIds.set(event.eventId, event.paymentId);
        }
        return {
          ...request,
          method: 'POST',
          path,
          headers: {
            'content-type': 'application/json',
            'x-razorpay-signature': event.signature,
            'x-razorpay-event-id': event.eventId,
          },
          body: event.body,
        };
      },
      onResponse: (status, _body, context) => {
        if (!tracking) return;
        const eventId = (context as { eventId?: string }).eventId;
        if (eventId && status === 200) tracking.statuses.set(eventId, 200);
        tracking.lastResponseAt = performance.now();
      },
    },
  ];
}

function workerHasPaymentsProcessor(): boolean {
  const source = readFileSync(join(repoRoot, 'services/worker/src/processors.ts'), 'utf8');
  return /['"]payment-event\.apply['"]\s*:\s*[A-Za-z_$]/.test(source);
}

interface Settlement {
  rows: BenchRow[];
  problems: string[];
}

/**
 * Waits until the worker has processed every stored event, then counts: every
 * webhook answered 200 must be in the inbox (none lost at intake) and have
 * exactly one payment in the ledger (none lost, none doubled), and the
 * invoices must hold exactly that much money.
 */
async function settle(
  pool: pg.Pool,
  tracking: Tracking,
  worker: ManagedProcess,
  timeoutMs: number,
): Promise<Settlement> {
  const accepted = [...tracking.statuses].filter(([, status]) => status === 200).map(([id]) => id);
  const acceptedPayments = accepted.map((id) => tracking.paymentIds.get(id)!);
  const deadline = Date.now() + timeoutMs;
  let pending = Number.POSITIVE_INFINITY;
  let drainedAt: number | undefined;
  while (Date.now() < deadline) {
    if (worker.hasExited()) throw new Error(`the worker exited while applying; see ${worker.logFile}`);
    const { rows } = await pool.query<{ pending: string }>(
      `select count(*) filter (where status = 'received') as pending from provider_events`,
    );
    pending = Number(rows[0]?.pending);
    if (pending === 0) {
      drainedAt = performance.now();
      break;
    }
    await sleep(100);
  }
  const count = async (text: string, values: unknown[]) =>
    Number((await pool.query<{ n: string }>(text, values)).rows[0]?.n ?? 0);
  const storedCount = await count(
    `select count(*) as n from unnest($1::text[]) as a(id)
     join provider_events e on e.provider = 'razorpay' and e.event_id = a.id`,
    [accepted],
  );
  const missingCount = await count(
    `select count(*) as n from unnest($1::text[]) as a(pay) where not exists
       (select 1 from payments p where p.provider = 'razorpay' and p.provider_payment_id = a.pay)`,
    [acceptedPayments],
  );
  const ledger = (
    await pool.query<{ payments: string; distinct: string; amount: string; paid: string }>(
      `select count(*) as payments, count(distinct provider_payment_id) as distinct,
         coalesce(sum(amount_minor), 0) as amount,
         (select coalesce(sum(paid_minor), 0) from invoices) as paid
       from payments where provider = 'razorpay'`,
    )
  ).rows[0]!;
  const lostAtIntake = accepted.length - storedCount;
  const lost = missingCount;
  const doubled = Number(ledger.payments) - Number(ledger.distinct);
  const problems: string[] = [];
  if (drainedAt === undefined)
    problems.push(`${pending} events still not applied ${timeoutMs / 1000} s after the last 200`);
  if (lostAtIntake) problems.push(`${lostAtIntake} webhooks answered 200 are not in the inbox`);
  if (lost) problems.push(`${lost} payments answered 200 never reached the ledger`);
  if (doubled) problems.push(`${doubled} payments applied more than once`);
  if (BigInt(ledger.paid) !== BigInt(ledger.amount))
    problems.push(`invoices hold ${ledger.paid} paise paid but the payments sum to ${ledger.amount}`);
  const rows: BenchRow[] = [
    {
      metric: 'time from the last 200 until every payment applied',
      unit: 'ms',
      value: drainedAt === undefined ? Number.NaN : drainedAt - tracking.lastResponseAt,
      better: 'lower',
      note: 'the worker (real process, payments processor) runs during the load too; polled every 100 ms',
    },
    {
      metric: 'webhooks answered 200 (unique events)',
      unit: 'count',
      value: accepted.length,
      better: 'higher',
    },
    { metric: 'payments in the ledger', unit: 'count', value: Number(ledger.payments), better: 'higher' },
    {
      metric: 'lost (200 but not stored, or never applied)',
      unit: 'count',
      value: lostAtIntake + lost,
      better: 'lower',
    },
    { metric: 'doubled (one payment applied twice)', unit: 'count', value: doubled, better: 'lower' },
  ];
  return { rows, problems };
}

function targetNotes(rows: BenchRow[], settings: LoadSettings): void {
  const throughput = rows.find((row) => row.metric === 'stored webhooks per second');
  const p99 = rows.find((row) => row.metric === 'time to 200 p99');
  if (throughput?.baseline) {
    const ratio = throughput.value / throughput.baseline;
    throughput.note = `${ratio >= 1 / 3 ? 'meets' : 'misses'} the aim of at least 1/3 of the bare route at ${settings.connections} connections`;
  }
  if (p99) p99.note = `${p99.value < 50 ? 'meets' : 'misses'} the aim of p99 under 50 ms`;
}

const webhooks: Benchmark = {
  name: 'webhooks',
  description:
    'unique signed Razorpay webhooks through Caddy into billing-webhook (value) vs a bare express POST behind the same Caddy (baseline); then the worker applies them all',
  loadDefaults: { connections: 32 },
  async run() {
    const settings = loadSettings(process.env, { connections: 32 });
    console.error('  recreating bursar_bench_webhooks');
    await recreateDatabase(DATABASE_URL);
    await clearQueueKeys(QUEUE_PREFIX);
    const db = createDb(DATABASE_URL, { max: 4, applicationName: 'bursar-bench-webhooks' });
    const pool = new pg.Pool({
      connectionString: DATABASE_URL,
      max: 2,
      application_name: 'bursar-bench-webhooks',
    });
    const scratch = mkdtempSync(join(tmpdir(), 'bursar-bench-webhooks-'));
    const started: ManagedProcess[] = [];
    try {
      const runs = [settings.warmupSec, ...Array<number>(settings.rounds).fill(settings.durationSec)];
      const poolSizes = runs.map((seconds) => Math.ceil(seconds * POOL_RATE));
      const total = poolSizes.reduce((sum, size) => sum + size, 0);
      const perInvoice = BigInt(Math.ceil(total / INVOICES) + 1) * BigInt(PAYMENT_MINOR);
      console.error(`  issuing ${INVOICES} invoices and signing ${total} webhooks`);
      const { schoolId, invoices } = await seedInvoices(db, perInvoice);
      let offset = 0;
      const pools = poolSizes.map((size, run) => {
        const pool = signEvents(run, size, schoolId, invoices, offset);
        offset += size;
        return pool;
      });

      const [webhookPort, barePort, edgePort, workerPort] = await freePorts(4);
      if (!webhookPort || !barePort || !edgePort || !workerPort) throw new Error('no free ports');
      const edge = `http://127.0.0.1:${edgePort}`;
      const serviceEnv = {
        ...process.env,
        NODE_ENV: 'development',
        DATABASE_URL,
        REDIS_URL,
        QUEUE_PREFIX,
        LOG_LEVEL: 'info',
        LOG_FORMAT: 'json',
        OTEL_EXPORTER_OTLP_ENDPOINT: '',
      };
      const webhook = startProcess({
        name: 'billing-webhook',
        command: process.execPath,
        args: SERVICE_ARGS,
        cwd: join(repoRoot, 'services/billing-webhook'),
        env: {
          ...serviceEnv,
          OTEL_SERVICE_NAME: 'bursar-billing-webhook',
          WEBHOOK_PORT: String(webhookPort),
          PUBLIC_URL: edge,
          RAZORPAY_WEBHOOK_SECRETS: SECRET,
        },
        logFile: join(resultsDir, 'webhooks-billing-webhook.log'),
      });
      started.push(webhook);
      const hasProcessor = workerHasPaymentsProcessor();
      const worker = hasProcessor
        ? startProcess({
            name: 'worker',
            command: process.execPath,
            args: SERVICE_ARGS,
            cwd: join(repoRoot, 'services/worker'),
            env: { ...serviceEnv, OTEL_SERVICE_NAME: 'bursar-worker', WORKER_PORT: String(workerPort) },
            logFile: join(resultsDir, 'webhooks-worker.log'),
          })
        : undefined;
      if (worker) started.push(worker);
      const bare = startProcess({
        name: 'bare',
        command: process.execPath,
        args: ['--import', 'tsx', 'bench/lib/bare-webhook-server.ts'],
        cwd: repoRoot,
        env: { ...process.env, BARE_PORT: String(barePort) },
        logFile: join(resultsDir, 'webhooks-bare.log'),
      });
      started.push(bare);
      await waitForUrl(`http://127.0.0.1:${webhookPort}/webhooks/healthz`, {
        process: webhook,
        timeoutMs: 60_000,
      });
      if (worker)
        await waitForUrl(`http://127.0.0.1:${workerPort}/healthz`, { process: worker, timeoutMs: 60_000 });
      await waitForUrl(`http://127.0.0.1:${barePort}/bare/healthz`, { process: bare, timeoutMs: 30_000 });
      const caddyfile = join(scratch, 'Caddyfile');
      writeFileSync(caddyfile, benchCaddyfile());
      const caddy = startCaddy({
        port: edgePort,
        apiUpstream: '127.0.0.1:9',
        scratch,
        logFile: join(resultsDir, 'webhooks-caddy.log'),
        caddyfile,
        env: { WEBHOOK_UPSTREAM: `127.0.0.1:${webhookPort}`, BARE_UPSTREAM: `127.0.0.1:${barePort}` },
      });
      started.push(caddy);
      await waitForUrl(`${edge}/webhooks/readyz`, { process: caddy, timeoutMs: 30_000 });
      await waitForUrl(`${edge}/bare/healthz`, { process: caddy, timeoutMs: 30_000 });

      const tracking: Tracking = {
        statuses: new Map(),
        paymentIds: new Map(),
        lastResponseAt: 0,
        repeats: 0,
      };
      const { value, baseline } = await compareUrls(
        {
          value: {
            url: edge,
            label: 'POST /webhooks/razorpay via Caddy',
            requestsFor: (run) => webhookRequests(pools[run]!, '/webhooks/razorpay', tracking),
          },
          baseline: {
            url: edge,
            label: 'POST /bare/webhook via Caddy',
            requestsFor: (run) => webhookRequests(pools[run]!, '/bare/webhook', undefined),
          },
        },
        {
          settings,
          cpuProbes: {
            'billing-webhook': () => processCpuSeconds(webhook.pid),
            ...(worker ? { worker: () => processCpuSeconds(worker.pid) } : {}),
            bare: () => processCpuSeconds(bare.pid),
            caddy: () => processCpuSeconds(caddy.pid),
            loadgen: selfCpuSeconds,
          },
        },
      );
      for (const proc of started) {
        if (proc.hasExited())
          throw new Error(`${proc.name} exited during the measurement; see ${proc.logFile}`);
      }

      const rows: BenchRow[] = [
        {
          metric: 'stored webhooks per second',
          unit: 'req/s',
          value: value.reqPerSec,
          baseline: baseline.reqPerSec,
          better: 'higher',
        },
        {
          metric: 'time to 200 p50',
          unit: 'ms',
          value: value.p50Ms,
          baseline: baseline.p50Ms,
          better: 'lower',
        },
        {
          metric: 'time to 200 p99',
          unit: 'ms',
          value: value.p99Ms,
          baseline: baseline.p99Ms,
          better: 'lower',
        },
        ...cpuRows(value, baseline, [
          {
            label: 'billing-webhook',
            value: 'billing-webhook',
            baseline: 'bare',
            note: 'baseline: the bare server',
          },
          ...(worker
            ? [{ label: 'worker', value: 'worker', note: 'applies payments while the load runs' }]
            : []),
          { label: 'caddy', value: 'caddy' },
          { label: 'load generator', value: 'loadgen' },
        ]),
        ...checkRows(value, baseline),
      ];
      targetNotes(rows, settings);
      const problems = loadProblems({ 'from billing-webhook': value, 'from the bare route': baseline });
      if (tracking.repeats) {
        problems.push(
          `the pre-signed pool ran dry and ${tracking.repeats} webhooks were repeats; raise POOL_RATE`,
        );
      }
      if (worker) {
        const settlement = await settle(pool, tracking, worker, 300_000);
        rows.push(...settlement.rows);
        problems.push(...settlement.problems);
      } else {
        rows.push({
          metric: 'time from the last 200 until every payment applied',
          unit: 'ms',
          value: Number.NaN,
          better: 'lower',
          note: 'SKIPPED: services/worker/src/processors.ts has no payment-event.apply processor yet, so nothing applies webhooks; no count of lost or doubled payments either',
        });
      }
      if (problems.length) {
        throw new BenchFailure(`webhooks: ${problems.join('; ')}; see bench/results/webhooks-*.log`, rows);
      }
      return rows;
    } finally {
      for (const proc of started.reverse()) await proc.stop();
      await db.destroy();
      await pool.end();
      rmSync(scratch, { recursive: true, force: true });
    }
  },
};

export default webhooks;

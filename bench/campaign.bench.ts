/**
 * `pnpm bench campaign`: one WhatsApp campaign to BENCH_CAMPAIGN_RECIPIENTS
 * guardians (50,000) sent by worker processes, as production runs them, to
 * the sandbox provider at WHATSAPP_MPS=500: how long the launch takes to
 * queue every send, the rate the sandbox accepts messages at over the steady
 * part of the run against the configured limit, duplicates and misses, and
 * how long a receipt for another school waits behind the campaign.
 *
 * The data is made fresh on every run, dated from the day it runs: one school
 * with a primary guardian (a distinct valid Indian mobile number) and an open
 * invoice per student, and a second school with one guardian for the
 * receipts, written in bulk with the triggers off so no PDF is rendered.
 */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { sql } from 'kysely';
import { JOBS, type MessageParam } from '../packages/contracts/src/index.js';
import { createDb } from '../packages/db/src/pool.js';
import {
  createLogger,
  createOutboxRelay,
  enqueue,
  transactionWithOutbox,
} from '../packages/platform/src/index.js';
import { startWhatsAppSandbox, type ReceivedMessage } from '../packages/whatsapp/src/testing/index.js';
import { processCpuSeconds, selfCpuSeconds } from './lib/cpu.js';
import {
  cpuProfileSetup,
  formatCpuProfileSummary,
  profiled,
  summarizeCpuProfile,
} from './lib/cpu-profile.js';
import {
  backendsCpu,
  CpuSampler,
  machineBusySeconds,
  redisServerPid,
  type CpuProbe,
} from './lib/cpu-sampler.js';
import { repoRoot, resultsDir } from './lib/paths.js';
import { freePorts } from './lib/ports.js';
import { startProcess, tailLog, waitForUrl, type ManagedProcess } from './lib/process.js';
import { clearQueueKeys, recreateDatabase } from './lib/scratch-data.js';
import { REDIS_URL } from './lib/stack.js';
import { BenchFailure, type Benchmark, type BenchRow } from './lib/types.js';

const DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/bursar_bench_campaign';
const QUEUE_PREFIX = '{bursar-bench-campaign}';
/** The fee reminder the campaign sends: a pay link per recipient, as a real fee campaign has. */
const CAMPAIGN_PARAMS: MessageParam[] = [
  'guardian.name',
  'invoice.balance',
  'student.firstName',
  'invoice.dueDate',
  'payLink',
];
/** The aim for a receipt sent during a campaign, from enqueue to the provider. */
const RECEIPT_AIM_SECONDS = 2;
/** The aim for the achieved send rate, as a share of WHATSAPP_MPS. */
const RATE_AIM = 0.95;
/** The share of campaign messages at each end left out of the steady rate (ramp-up, the tail). */
const STEADY_TRIM = 0.1;

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`${name} must be a positive integer, not "${raw}"`);
  return value;
}

function isoDay(days: number): string {
  return new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);
}

type Db = ReturnType<typeof createDb>;

interface Seeded {
  schoolId: string;
  templateId: string;
  receipt: { schoolId: string; guardianId: string; phone: string; templateId: string; invoiceId: string };
}

/**
 * The campaign's school (`count` students, each with a primary guardian on
 * `+9198` and eight digits, and one open invoice of one line) and the
 * receipts' school (one student, guardian and invoice), with an approved
 * template each. The students' running totals are set from their invoices,
 * as the ledger would have left them.
 */
async function seed(db: Db, count: number): Promise<Seeded> {
  const seeded = await db.transaction().execute(async (trx) => {
    // The render triggers would queue a PDF per invoice; the foreign-key triggers cost a row lock each.
    await sql`set local session_replication_role = replica`.execute(trx);
    const school = await trx
      .insertInto('schools')
      .values({
        name: 'Sunrise Public School, Pune',
        currency: 'INR',
        timezone: 'Asia/Kolkata',
        locale: 'en-IN',
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await sql`
      with n as (select i from generate_series(1, ${count}::int) as i),
      student as (
        insert into students (school_id, first_name, last_name, admission_no)
        select ${school.id}, (array['Aarav', 'Diya', 'Kabir', 'Meera', 'Rohan', 'Zoya'])[1 + i % 6],
               (array['Kulkarni', 'Sharma', 'Iyer', 'Deshpande', 'Patil'])[1 + i % 5],
               'C-' || lpad(i::text, 6, '0')
        from n
        returning id, admission_no
      ), guardian as (
        insert into guardians (school_id, name, phone)
        select ${school.id}, (array['Priya', 'Rahul', 'Ananya', 'Vikram', 'Sneha', 'Arjun', 'Kavita'])[1 + i % 7]
                              || ' ' || (array['Kulkarni', 'Sharma', 'Iyer', 'Deshpande', 'Patil'])[1 + i % 5],
               '+9198' || lpad(i::text, 8, '0')
        from n
        returning id, phone
      ), link as (
        insert into student_guardians (school_id, student_id, guardian_id, relation, is_primary_payer)
        select ${school.id}, s.id, g.id, 'parent', true
        from student s join guardian g on substr(s.admission_no, 3)::int = right(g.phone, 8)::int
        returning student_id
      )
      insert into invoices (school_id, student_id, number, currency, issue_date, due_date, total_minor)
      select ${school.id}, s.id, 'INV-C-' || substr(s.admission_no, 3), 'INR', ${isoDay(-5)}::date,
             ${isoDay(10)}::date, 150000 + (substr(s.admission_no, 3)::int % 7) * 25000
      from link join student s on s.id = link.student_id
    `.execute(trx);

    const other = await trx
      .insertInto('schools')
      .values({ name: 'Lakeview School, Nashik', currency: 'INR', timezone: 'Asia/Kolkata', locale: 'en-IN' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const student = await trx
      .insertInto('students')
      .values({ schoolId: other.id, firstName: 'Ishaan', lastName: 'Joshi', admissionNo: 'L-000001' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const guardian = await trx
      .insertInto('guardians')
      .values({ schoolId: other.id, name: 'Neha Joshi', phone: '+919700000001' })
      .returning(['id', 'phone'])
      .executeTakeFirstOrThrow();
    await trx
      .insertInto('studentGuardians')
      .values({
        schoolId: other.id,
        studentId: student.id,
        guardianId: guardian.id,
        relation: 'mother',
        isPrimaryPayer: true,
      })
      .execute();
    const invoice = await trx
      .insertInto('invoices')
      .values({
        schoolId: other.id,
        studentId: student.id,
        number: 'INV-L-000001',
        currency: 'INR',
        issueDate: isoDay(-5),
        dueDate: isoDay(10),
        totalMinor: 180000n,
      })
      .returning('id')
      .executeTakeFirstOrThrow();

    await sql`
      insert into invoice_lines (invoice_id, position, description, fee_head, quantity, unit_amount_minor, amount_minor)
      select id, 1, 'Tuition fee, term 2', 'tuition', 1, total_minor, total_minor from invoices
    `.execute(trx);
    await sql`
      update students set invoiced_minor = i.total, balance_minor = i.total
      from (select student_id, sum(total_minor) as total from invoices group by 1) i
      where i.student_id = students.id
    `.execute(trx);

    const template = await trx
      .insertInto('whatsappTemplates')
      .values({
        schoolId: school.id,
        name: 'fee_reminder_term2',
        language: 'en',
        category: 'utility',
        body: 'Dear {{1}}, {{2}} for {{3}} is due on {{4}}. Pay online: {{5}}',
        paramCount: CAMPAIGN_PARAMS.length,
        status: 'approved',
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    const receiptTemplate = await trx
      .insertInto('whatsappTemplates')
      .values({
        schoolId: other.id,
        name: 'payment_receipt',
        language: 'en',
        category: 'utility',
        body: 'Dear {{1}}, we received {{2}} for {{3}}. Thank you.',
        paramCount: 3,
        purpose: 'receipt',
        status: 'approved',
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return {
      schoolId: school.id,
      templateId: template.id,
      receipt: {
        schoolId: other.id,
        guardianId: guardian.id,
        phone: guardian.phone,
        templateId: receiptTemplate.id,
        invoiceId: invoice.id,
      },
    };
  });
  // Fresh tables have no statistics: plan the launch's audience query as a live database would.
  await sql`analyze schools, students, guardians, student_guardians, invoices, whatsapp_templates`.execute(
    db,
  );
  return seeded;
}

/** A receipt as the transactional processor stores it: its message row and a send without a slot. */
async function sendReceipt(
  db: Db,
  relay: Parameters<typeof transactionWithOutbox>[1],
  receipt: Seeded['receipt'],
  index: number,
): Promise<{ messageId: string; enqueuedAt: number }> {
  const enqueuedAt = Date.now();
  const messageId = await transactionWithOutbox(db, relay, async (trx) => {
    const row = await trx
      .insertInto('whatsappMessages')
      .values({
        schoolId: receipt.schoolId,
        purpose: 'receipt',
        guardianId: receipt.guardianId,
        invoiceId: receipt.invoiceId,
        phone: receipt.phone,
        templateId: receipt.templateId,
        params: JSON.stringify(['Neha Joshi', '₹1,800.00', 'Ishaan Joshi']),
        dedupeKey: `receipt:bench-${index}`,
        status: 'queued',
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await enqueue(trx, JOBS['whatsapp.send'], { messageId: row.id });
    return row.id;
  });
  return { messageId, enqueuedAt };
}

async function campaignStatus(db: Db, campaignId: string): Promise<string> {
  const row = await db
    .selectFrom('whatsappCampaigns')
    .select('status')
    .where('id', '=', campaignId)
    .executeTakeFirstOrThrow();
  return row.status;
}

async function unrelayedSends(db: Db): Promise<number> {
  const row = await db
    .selectFrom('outbox')
    .select((eb) => eb.fn.countAll<string>().as('count'))
    .where('relayedAt', 'is', null)
    .where('jobName', '=', 'whatsapp.send')
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

/** Fails at once, with its log's tail, when a worker has died. */
function checkAlive(workers: ManagedProcess[]): void {
  for (const worker of workers) {
    if (worker.hasExited()) {
      throw new Error(
        `${worker.name} exited during the run; last lines of ${worker.logFile}:\n${tailLog(worker.logFile)}`,
      );
    }
  }
}

/** The accepted rate over the middle of the run: messages between the trimmed ends, over the time between them. */
function steadyRate(times: number[]) {
  const lo = Math.floor(times.length * STEADY_TRIM);
  const hi = Math.max(lo, Math.ceil(times.length * (1 - STEADY_TRIM)) - 1);
  const from = times[lo] ?? 0;
  const to = times[hi] ?? 0;
  const seconds = (to - from) / 1000;
  // Whole seconds inside the window, to show whether the rate was even or came in bursts.
  const perSecond: number[] = [];
  for (let start = from; start + 1000 <= to; start += 1000) {
    perSecond.push(times.filter((time) => time >= start && time < start + 1000).length);
  }
  return { from, to, messages: hi - lo, rate: seconds > 0 ? (hi - lo) / seconds : 0, perSecond };
}

function met(ok: boolean): string {
  return ok ? 'MET' : 'MISSED';
}

const campaign: Benchmark = {
  name: 'campaign',
  description:
    'A 50,000-recipient WhatsApp campaign through worker processes to the sandbox: launch to all queued, send rate vs WHATSAPP_MPS, duplicates and misses, a receipt during the run',
  async run(): Promise<BenchRow[]> {
    const recipients = positiveInt('BENCH_CAMPAIGN_RECIPIENTS', 50_000);
    const mps = positiveInt('BENCH_CAMPAIGN_MPS', 500);
    // Two: one worker process spends 2.3–2.8 ms of CPU per send, so a single one tops out
    // between 350 and 430 msg/s, under the 500 the aim asks for; the limiter is shared through Redis.
    const workerCount = positiveInt('BENCH_CAMPAIGN_WORKERS', 2);
    const receiptCount = positiveInt('BENCH_CAMPAIGN_RECEIPTS', 3);
    const sendConcurrency = process.env.BENCH_CAMPAIGN_SEND_CONCURRENCY;
    // A diagnosis, never a default: `off` shows how much of a send is waiting for WAL flushes.
    const synchronousCommit = process.env.BENCH_CAMPAIGN_SYNCHRONOUS_COMMIT;
    if (synchronousCommit && !['on', 'off', 'local'].includes(synchronousCommit)) {
      throw new Error(
        `BENCH_CAMPAIGN_SYNCHRONOUS_COMMIT must be on, off or local, not "${synchronousCommit}"`,
      );
    }
    console.error(`  recreating bursar_bench_campaign with ${recipients} guardians`);
    await recreateDatabase(DATABASE_URL);
    await clearQueueKeys(QUEUE_PREFIX);
    const scratch = mkdtempSync(join(tmpdir(), 'bursar-bench-campaign-'));
    const db = createDb(DATABASE_URL, { max: 4, applicationName: 'bursar-bench-campaign' });
    if (synchronousCommit) {
      // This database only; the workers' sessions, opened after this, take it.
      await sql`alter database bursar_bench_campaign set synchronous_commit = ${sql.raw(synchronousCommit)}`.execute(
        db,
      );
    }
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const relay = createOutboxRelay({
      db,
      redis,
      prefix: QUEUE_PREFIX,
      logger: createLogger('bench-campaign', 'warn'),
    });
    // Nothing sends status webhooks back: they would be 1,500 inbox rows a second, a different benchmark.
    const sandbox = await startWhatsAppSandbox();
    const workers: ManagedProcess[] = [];
    try {
      const seedStart = performance.now();
      const seeded = await seed(db, recipients);
      console.error(`  seeded in ${((performance.now() - seedStart) / 1000).toFixed(1)} s`);

      const ports = await freePorts(workerCount);
      const profileDir = process.env.BENCH_CPU_PROFILE === '1' ? join(scratch, 'cpuprofile') : undefined;
      for (const [index, port] of ports.entries()) {
        // Only the first worker is profiled; with several, its share of the sends is assumed even.
        const profiling = profileDir && index === 0 ? cpuProfileSetup(profileDir) : undefined;
        const worker = startProcess({
          name: `worker-${index + 1}`,
          command: process.execPath,
          args: [
            '--import',
            'tsx',
            ...(profiling?.nodeArgs ?? []),
            '--import',
            '@bursar/platform/register-telemetry',
            'src/main.ts',
          ],
          cwd: join(repoRoot, 'services/worker'),
          env: {
            ...process.env,
            NODE_ENV: 'development',
            DATABASE_URL,
            REDIS_URL,
            QUEUE_PREFIX,
            STORAGE_DIR: join(scratch, 'storage'),
            LOG_LEVEL: 'info',
            LOG_FORMAT: 'json',
            OTEL_EXPORTER_OTLP_ENDPOINT: '',
            OTEL_SERVICE_NAME: 'bursar-worker',
            WORKER_PORT: String(port),
            WORKER_QUEUES: 'whatsapp-campaign,whatsapp-send',
            WHATSAPP_PROVIDER: 'sandbox',
            WHATSAPP_SANDBOX_API: 'meta',
            WHATSAPP_API_BASE: sandbox.url,
            WHATSAPP_MPS: String(mps),
            ...(sendConcurrency ? { WHATSAPP_SEND_CONCURRENCY: sendConcurrency } : {}),
            ...profiling?.env,
          },
          logFile: join(resultsDir, `campaign-worker-${index + 1}.log`),
        });
        workers.push(worker);
      }
      for (const [index, worker] of workers.entries()) {
        await waitForUrl(`http://127.0.0.1:${ports[index]}/readyz`, { process: worker, timeoutMs: 60_000 });
      }

      const probes: Record<string, CpuProbe> = {};
      for (const worker of workers) probes[worker.name] = () => processCpuSeconds(worker.pid);
      probes['PostgreSQL (workers)'] = backendsCpu(db, 'bursar-worker');
      const redisPid = await redisServerPid(redis);
      if (redisPid !== undefined) probes['Redis'] = () => processCpuSeconds(redisPid);
      probes['bench (sandbox)'] = selfCpuSeconds;
      probes['machine'] = machineBusySeconds;
      const sampler = new CpuSampler(probes);
      await sampler.start();

      console.error(`  launching; ${workerCount} worker process(es), WHATSAPP_MPS=${mps}`);
      const launchedAt = Date.now();
      const campaignId = await transactionWithOutbox(db, relay, async (trx) => {
        const row = await trx
          .insertInto('whatsappCampaigns')
          .values({
            schoolId: seeded.schoolId,
            name: 'Term 2 fee reminder',
            templateId: seeded.templateId,
            params: JSON.stringify(CAMPAIGN_PARAMS),
            audience: '{}',
            status: 'launching',
          })
          .returning('id')
          .executeTakeFirstOrThrow();
        await enqueue(trx, JOBS['whatsapp-campaign.launch'], { campaignId: row.id });
        return row.id;
      });

      // Recipient rows exist once the launch has committed (status running); every send is in
      // Redis once the outbox has none of them left unrelayed (relayed_at is set with the add).
      const launchDeadline = launchedAt + 600_000;
      let recipientsAt: number | undefined;
      let queuedAt: number | undefined;
      while (queuedAt === undefined) {
        checkAlive(workers);
        if (Date.now() > launchDeadline) throw new Error('the launch did not queue every send within 600 s');
        if (recipientsAt === undefined) {
          const status = await campaignStatus(db, campaignId);
          if (status === 'running') recipientsAt = Date.now();
          else if (status !== 'launching') throw new Error(`the campaign went from launching to ${status}`);
        }
        if (recipientsAt !== undefined && (await unrelayedSends(db)) === 0) queuedAt = Date.now();
        else await sleep(50);
      }
      console.error(
        `  recipients in ${((recipientsAt! - launchedAt) / 1000).toFixed(2)} s, all queued in ${((queuedAt - launchedAt) / 1000).toFixed(2)} s`,
      );

      // Receipts go out during the campaign's expected run, after the launch has queued everything.
      const expectedEnd = launchedAt + (recipients / mps) * 1000;
      const firstReceipt = Math.max(queuedAt, launchedAt + 0.25 * (expectedEnd - launchedAt));
      const lastReceipt = Math.max(firstReceipt, launchedAt + 0.75 * (expectedEnd - launchedAt));
      const receiptTimes = Array.from({ length: receiptCount }, (_, i) =>
        receiptCount === 1
          ? (firstReceipt + lastReceipt) / 2
          : firstReceipt + (i * (lastReceipt - firstReceipt)) / (receiptCount - 1),
      );
      const receipts: { messageId: string; enqueuedAt: number; campaignRunning: boolean }[] = [];
      // Generous: on a busy machine the rate can fall far below the limit, and that is a result, not an error.
      const completionDeadline = launchedAt + Math.max(600_000, (10 * recipients * 1000) / mps);
      let status = 'running';
      const untilCompleted = async () => {
        let lastStatusCheck = 0;
        while (status !== 'completed' || receipts.length < receiptCount) {
          checkAlive(workers);
          if (Date.now() > completionDeadline) return;
          const due = receiptTimes[receipts.length];
          if (due !== undefined && Date.now() >= due) {
            const sent = await sendReceipt(db, relay, seeded.receipt, receipts.length);
            receipts.push({ ...sent, campaignRunning: status === 'running' });
            continue;
          }
          if (Date.now() - lastStatusCheck >= 250) {
            lastStatusCheck = Date.now();
            status = await campaignStatus(db, campaignId);
          }
          await sleep(20);
        }
      };
      if (profileDir) {
        // From all queued to the end: the sends alone, not the launch.
        const before = sandbox.received().length;
        const { file } = await profiled(workers[0]!, profileDir, untilCompleted);
        const sent = sandbox.received().length - before;
        writeFileSync(
          join(resultsDir, 'campaign-cpuprofile-worker.txt'),
          `${formatCpuProfileSummary(summarizeCpuProfile(file, 25), Math.round(sent / workerCount))}\n`,
        );
        copyFileSync(file, join(resultsDir, 'campaign-worker.cpuprofile'));
      } else {
        await untilCompleted();
      }
      const finishedAt = Date.now();
      // The last receipt may still be on its way to the sandbox.
      const receiptIds = new Set(receipts.map((receipt) => receipt.messageId));
      let received: ReceivedMessage[] = sandbox.received();
      const receiptDeadline = Date.now() + 10_000;
      while (
        received.filter((message) => receiptIds.has(message.clientReference ?? '')).length <
          receipts.length &&
        Date.now() < receiptDeadline
      ) {
        await sleep(100);
        received = sandbox.received();
      }
      await sampler.stop();

      const messages = await db
        .selectFrom('whatsappMessages')
        .select(['id', 'status'])
        .where('campaignId', '=', campaignId)
        .execute();
      const messageIds = new Set(messages.map((message) => message.id));
      const timesReceived = new Map<string, number>();
      const campaignTimes: number[] = [];
      let unexpected = 0;
      for (const message of received) {
        const id = message.clientReference ?? '';
        if (messageIds.has(id)) {
          timesReceived.set(id, (timesReceived.get(id) ?? 0) + 1);
          campaignTimes.push(message.receivedAt.getTime());
        } else if (!receiptIds.has(id)) unexpected += 1;
      }
      campaignTimes.sort((a, b) => a - b);
      const duplicates = [...timesReceived.values()].reduce((sum, times) => sum + times - 1, 0);
      // Against the guardians the campaign should reach, so a recipient row never made is a miss too.
      const misses = recipients - timesReceived.size;
      const notSent = messages.filter((message) => message.status !== 'sent').length;

      const steady = steadyRate(campaignTimes);
      const lastAccepted = campaignTimes.at(-1) ?? finishedAt;
      const cpu = sampler.between(steady.from, steady.to);
      const windowSeconds = (steady.to - steady.from) / 1000;

      const receiptLatencies = receipts.map((receipt) => {
        const message = received.find((candidate) => candidate.clientReference === receipt.messageId);
        const at = message?.receivedAt.getTime();
        return {
          ...receipt,
          seconds: at === undefined ? undefined : (at - receipt.enqueuedAt) / 1000,
          // Campaign messages the sandbox accepted while the receipt waited: proof it had to compete.
          competing:
            at === undefined
              ? 0
              : campaignTimes.filter((time) => time >= receipt.enqueuedAt && time <= at).length,
        };
      });
      const arrived = receiptLatencies.filter((receipt) => receipt.seconds !== undefined);
      const worstReceipt = Math.max(...arrived.map((receipt) => receipt.seconds!));

      const rows: BenchRow[] = [
        {
          metric: 'launch → recipient rows created',
          unit: 's',
          value: (recipientsAt! - launchedAt) / 1000,
          better: 'lower',
          note: `${messages.length} recipient rows; polled every 50 ms`,
        },
        {
          metric: 'launch → every send job in Redis',
          unit: 's',
          value: (queuedAt - launchedAt) / 1000,
          better: 'lower',
          note: 'no whatsapp.send outbox row left unrelayed; sends start as soon as their batch is relayed',
        },
        {
          metric: `send rate, steady (${workerCount} worker${workerCount === 1 ? '' : 's'})`,
          unit: 'msg/s',
          value: steady.rate,
          baseline: mps,
          better: 'higher',
          note:
            `accepted by the sandbox between the ${STEADY_TRIM * 100}th and ${100 - STEADY_TRIM * 100}th percentile ` +
            `(${steady.messages} messages over ${windowSeconds.toFixed(1)} s); whole seconds ` +
            `${steady.perSecond.length ? `${Math.min(...steady.perSecond)}–${Math.max(...steady.perSecond)}` : 'none'}; ` +
            `aim >= ${RATE_AIM} of WHATSAPP_MPS=${mps}: ${met(steady.rate >= RATE_AIM * mps)}`,
        },
        {
          metric: 'launch → last campaign message accepted',
          unit: 's',
          value: (lastAccepted - launchedAt) / 1000,
          baseline: recipients / mps,
          better: 'lower',
          note: `baseline: ${recipients} messages at exactly ${mps}/s with nothing else to do`,
        },
        {
          metric: 'receipt during the campaign, enqueue → sandbox (worst)',
          unit: 's',
          value: arrived.length ? worstReceipt : Number.NaN,
          better: 'lower',
          note:
            `${receipts.length} receipt(s), each ${receiptLatencies
              .map(
                (receipt) =>
                  `${receipt.seconds === undefined ? 'never' : `${receipt.seconds.toFixed(2)} s`}` +
                  ` (${receipt.competing} campaign sends meanwhile${receipt.campaignRunning ? '' : ', campaign already done'})`,
              )
              .join(', ')}; ` +
            `aim < ${RECEIPT_AIM_SECONDS} s: ${met(arrived.length === receipts.length && worstReceipt < RECEIPT_AIM_SECONDS)}`,
        },
        {
          metric: 'duplicates',
          unit: 'count',
          value: duplicates,
          better: 'lower',
          note: 'sandbox deliveries beyond the first per recipient row',
        },
        {
          metric: 'misses',
          unit: 'count',
          value: misses,
          better: 'lower',
          note: `of ${recipients} guardians, none received by the sandbox`,
        },
        {
          metric: 'recipient rows not sent',
          unit: 'count',
          value: notSent,
          better: 'lower',
          note: 'excluded, failed or still queued; with valid numbers and no faults every row ends sent',
        },
        { metric: 'unexpected messages', unit: 'count', value: unexpected, better: 'lower' },
      ];
      const perMessageMs = (seconds: number) => (seconds * 1000) / Math.max(1, steady.messages);
      for (const [name, seconds] of Object.entries(cpu)) {
        const machine = name === 'machine';
        rows.push({
          metric: `${name} cores busy, steady part`,
          unit: 'cores',
          value: seconds / windowSeconds,
          better: 'lower',
          note: machine
            ? `of ${cpus().length} cores, everything on the machine; near the core count means the run was CPU-bound`
            : `${perMessageMs(seconds).toFixed(2)} ms CPU per message of the run`,
        });
      }
      // What the sends cost in CPU, wherever it is spent: the ceiling this machine could reach
      // with nothing else running, whatever else shared it during this run.
      const ours = Object.entries(cpu).filter(([name]) => name !== 'machine');
      const workersMs = perMessageMs(
        ours.filter(([name]) => name.startsWith('worker-')).reduce((sum, [, seconds]) => sum + seconds, 0),
      );
      const allMs = perMessageMs(ours.reduce((sum, [, seconds]) => sum + seconds, 0));
      if (ours.length && allMs > 0) {
        rows.push({
          metric: 'CPU per message, every process of the run',
          unit: 'ms',
          value: allMs,
          better: 'lower',
          note:
            `${ours.map(([name]) => name).join(' + ')}: at most ${Math.round((cpus().length * 1000) / allMs)} msg/s ` +
            `on ${cpus().length} cores with nothing else running; the worker${workerCount === 1 ? '' : 's'} ` +
            `${workersMs.toFixed(2)} ms of it, so ${workerCount === 1 ? 'one process' : `${workerCount} processes`} ` +
            `(${workerCount === 1 ? 'a core' : 'a core each'} at most) could send at most ${Math.round((workerCount * 1000) / workersMs)} msg/s`,
        });
      }

      const problems: string[] = [];
      if (duplicates) problems.push(`${duplicates} duplicate message(s)`);
      if (misses) problems.push(`${misses} guardian(s) never messaged`);
      if (unexpected) problems.push(`${unexpected} message(s) to no recipient row`);
      if (arrived.length < receipts.length)
        problems.push(`${receipts.length - arrived.length} receipt(s) never arrived`);
      if (status !== 'completed') problems.push(`the campaign is ${status} after the deadline`);
      if (problems.length) throw new BenchFailure(problems.join('; '), rows);
      return rows;
    } finally {
      for (const worker of workers.reverse()) await worker.stop();
      await relay.stop();
      await sandbox.close();
      redis.disconnect();
      await db.destroy();
      rmSync(scratch, { recursive: true, force: true });
    }
  },
};

export default campaign;

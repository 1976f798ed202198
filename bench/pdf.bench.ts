/**
 * `pnpm bench pdf`: invoice PDFs rendered and stored per second by one worker
 * process (concurrency 1 and 4), against, in the same run, the renderer alone
 * rendering the same documents into memory (no queue, no database, no
 * storage); then a 10,000-invoice bulk batch end to end (api → outbox →
 * two worker processes → storage → the streamed zip).
 *
 * The data is made fresh on every run, dated from the day it runs: one
 * school with BENCH_PDF_BATCH students (10,000) in one class, each with an
 * eight-line invoice (names in Latin with accents and in Devanagari, a pay
 * link, so every page carries a QR code), written with the render triggers
 * off so only the benchmark renders them.
 */
import { mkdirSync, mkdtempSync, rmSync, createWriteStream, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { sql } from 'kysely';
import yauzl from 'yauzl';
import { createDb } from '../packages/db/src/pool.js';
import {
  createDocumentDeps,
  loadInvoiceDocument,
  preloadFonts,
  renderInvoicePdf,
  type InvoiceDocument,
} from '../packages/documents/src/index.js';
import { payPageUrl } from '../packages/payments/src/index.js';
import { createLogger } from '../packages/platform/src/index.js';
import { createStorage } from '../packages/storage/src/index.js';
import { generateSigningKeyPem, loadSigningKeys } from '../services/api/src/auth/keys.js';
import { signAccessToken } from '../services/api/src/auth/tokens.js';
import { processCpuSeconds, selfCpuSeconds } from './lib/cpu.js';
import {
  cpuProfileSetup,
  formatCpuProfileSummary,
  profiled,
  summarizeCpuProfile,
} from './lib/cpu-profile.js';
import { repoRoot, resultsDir } from './lib/paths.js';
import { freePorts } from './lib/ports.js';
import { startProcess, waitForUrl, type ManagedProcess } from './lib/process.js';
import { clearQueueKeys, recreateDatabase } from './lib/scratch-data.js';
import { REDIS_URL, startApi } from './lib/stack.js';
import { BenchFailure, type Benchmark, type BenchRow } from './lib/types.js';

const DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/bursar_bench_pdf';
const QUEUE_PREFIX = '{bursar-bench-pdf}';
const PAY_LINK_SECRET = 'bench_pay_link_secret_0123456789';
const PUBLIC_URL = 'https://pay.bursar.example';
/** Invoices in the bulk batch. */
const BATCH = Number(process.env.BENCH_PDF_BATCH ?? 10_000);
/** Invoices each single-worker run renders and times (distinct ones, so none is skipped as unchanged). */
const RUN = Number(process.env.BENCH_PDF_RUN ?? 1_000);
/**
 * Invoices rendered, untimed, before each timed run (the renderer alone's and
 * each worker's, distinct from the timed ones): a new process takes hundreds
 * of documents to settle (V8's tiers and its heap, the shaping caches), and
 * with only twenty warm-up jobs a worker's first thousand cost it 1.2 to 1.5
 * times the CPU of its next thousand.
 */
const WARM = Number(process.env.BENCH_PDF_WARM ?? 500);
const serviceArgs = (nodeArgs: string[] = []) => [
  '--import',
  'tsx',
  ...nodeArgs,
  '--import',
  '@bursar/platform/register-telemetry',
  'src/main.ts',
];

function isoDay(days: number): string {
  return new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);
}

/**
 * The school, its class, its students (a third named in Devanagari), a
 * primary guardian each, and an eight-line invoice each, all made inside
 * PostgreSQL. Returns the school, class and invoice ids in number order.
 */
async function seed(db: ReturnType<typeof createDb>, count: number) {
  const { rows } = await sql<{ schoolId: string; classId: string }>`
    with school as (
      insert into schools (name, currency, timezone, locale, address, contact_email, contact_phone)
      values ('Sunrise Public School, Pune', 'INR', 'Asia/Kolkata', 'en-IN',
              '14 Karve Road, Kothrud, Pune 411038, Maharashtra', 'accounts@sunrise.example', '+91 20 5555 0101')
      returning id
    ), class as (
      insert into classes (school_id, name, grade, section, academic_year)
      select id, 'Grade 6 A', '6', 'A', '2026-27' from school returning id, school_id
    )
    select class.school_id as "schoolId", class.id as "classId" from class
  `.execute(db);
  const { schoolId, classId } = rows[0]!;
  await db.transaction().execute(async (trx) => {
    await sql`set local session_replication_role = replica`.execute(trx);
    await sql`
      insert into students (school_id, class_id, first_name, last_name, admission_no)
      select ${schoolId}, ${classId},
             (array['आशा', 'Zoë', 'Łukasz', 'रोहन', 'José', 'Ananya'])[1 + i % 6],
             (array['Kulkarni', 'Müller', 'कुमार', 'Nuñez', 'Deshpande'])[1 + i % 5],
             'ADM-' || lpad(i::text, 6, '0')
      from generate_series(1, ${count}) as i
    `.execute(trx);
    await sql`
      insert into guardians (school_id, name, phone)
      select school_id, 'Guardian of ' || first_name, '+9198' || lpad(row_number() over (order by admission_no)::text, 8, '0')
      from students where school_id = ${schoolId}
    `.execute(trx);
    await sql`
      insert into student_guardians (school_id, student_id, guardian_id, relation, is_primary_payer)
      select s.school_id, s.id, g.id, 'parent', true
      from (select *, row_number() over (order by admission_no) as n from students where school_id = ${schoolId}) s
      join (select *, row_number() over (order by phone) as n from guardians where school_id = ${schoolId}) g using (n)
    `.execute(trx);
    await sql`
      insert into invoices (school_id, student_id, number, currency, issue_date, due_date, total_minor)
      select school_id, id, 'INV-BENCH-' || substr(admission_no, 5), 'INR', ${isoDay(0)}::date, ${isoDay(30)}::date, 0
      from students where school_id = ${schoolId}
    `.execute(trx);
    await sql`
      insert into invoice_lines (invoice_id, position, description, fee_head, quantity, unit_amount_minor, amount_minor)
      select i.id, line.position, line.description, line.fee_head, line.quantity, line.unit, line.quantity * line.unit
      from invoices i
      cross join (values
        (1, 'Tuition fee, term 2 (October to December)', 'tuition', 1, 2450000),
        (2, 'Computer laboratory and digital learning', 'lab', 1, 320000),
        (3, 'School bus, route 7 (Kothrud - Baner)', 'transport', 3, 180000),
        (4, 'Annual sports day and athletics kit', 'sports', 1, 95000),
        (5, 'Library membership and reading programme', 'library', 1, 60000),
        (6, 'Science exhibition materials', 'activities', 1, 45000),
        (7, 'Examination fee, half-yearly', 'exams', 1, 75000),
        (8, 'Sibling discount (10%)', 'sibling_discount', 1, -250000)
      ) as line (position, description, fee_head, quantity, unit)
      where i.school_id = ${schoolId}
    `.execute(trx);
    await sql`
      update invoices set total_minor = lines.total
      from (select invoice_id, sum(amount_minor) as total from invoice_lines group by 1) lines
      where lines.invoice_id = invoices.id and invoices.school_id = ${schoolId}
    `.execute(trx);
  });
  const invoices = await db
    .selectFrom('invoices')
    .select('id')
    .where('schoolId', '=', schoolId)
    .orderBy('number')
    .execute();
  return { schoolId, classId, invoiceIds: invoices.map((row) => row.id) };
}

/**
 * Renders each model once (distinct documents, as the worker gets them: a
 * document's own strings, its pay link and number, are new to the shaper);
 * documents per wall second and per CPU second of this process.
 */
async function renderBare(models: InvoiceDocument[]) {
  const cpu0 = selfCpuSeconds();
  const start = performance.now();
  let bytes = 0;
  for (const model of models) bytes += (await renderInvoicePdf(model)).bytes.length;
  const wall = (performance.now() - start) / 1000;
  const count = models.length;
  return { perWall: count / wall, perCpu: count / (selfCpuSeconds() - cpu0), averageBytes: bytes / count };
}

async function documentCount(db: ReturnType<typeof createDb>, invoiceIds: string[]): Promise<number> {
  const row = await db
    .selectFrom('documents')
    .select((eb) => eb.fn.countAll<string>().as('count'))
    .where('kind', '=', 'invoice')
    .where('subjectId', 'in', invoiceIds)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

interface WorkerRun {
  perWall: number;
  perCpu: number;
}

const pdf: Benchmark = {
  name: 'pdf',
  description:
    'Invoice PDFs rendered and stored per second by one worker (concurrency 1 and 4) vs the renderer alone; a 10,000-invoice batch end to end',
  async run(): Promise<BenchRow[]> {
    const slice = WARM + RUN;
    const total = BATCH + 2 * slice;
    console.error(`  recreating bursar_bench_pdf with ${total} invoices`);
    await recreateDatabase(DATABASE_URL);
    await clearQueueKeys(QUEUE_PREFIX);
    const scratch = mkdtempSync(join(tmpdir(), 'bursar-bench-pdf-'));
    const storageDir = join(scratch, 'storage');
    mkdirSync(resultsDir, { recursive: true });
    const db = createDb(DATABASE_URL, { max: 4, applicationName: 'bursar-bench-pdf' });
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const queue = new Queue('invoice-pdf', { connection: redis, prefix: QUEUE_PREFIX });
    const started: ManagedProcess[] = [];
    const rows: BenchRow[] = [];
    try {
      const seeded = await seed(db, total);
      const runOne = seeded.invoiceIds.slice(0, slice);
      const runFour = seeded.invoiceIds.slice(slice, 2 * slice);
      const batchIds = seeded.invoiceIds.slice(2 * slice);
      const storage = createStorage({ STORAGE_DRIVER: 'fs', STORAGE_DIR: storageDir } as Parameters<
        typeof createStorage
      >[0]);
      const deps = createDocumentDeps({
        db,
        storage,
        payLink: (id) => payPageUrl(PUBLIC_URL, PAY_LINK_SECRET, id),
        logger: createLogger('bench-pdf', 'warn'),
      });

      // The renderer alone: the same documents, the same fonts, into memory.
      console.error('  renderer alone');
      await preloadFonts();
      const models: InvoiceDocument[] = [];
      for (const id of runOne) models.push((await loadInvoiceDocument(db, id, deps))!.model);
      // Warmed on documents of its own first, as each worker is.
      for (const model of models.splice(0, WARM)) await renderInvoicePdf(model);
      const bare = await renderBare(models);

      const [apiPort, ...workerPorts] = await freePorts(4);
      const serviceEnv = {
        ...process.env,
        NODE_ENV: 'development',
        DATABASE_URL,
        REDIS_URL,
        QUEUE_PREFIX,
        STORAGE_DIR: storageDir,
        PAY_LINK_SECRET,
        PUBLIC_URL,
        LOG_LEVEL: 'info',
        LOG_FORMAT: 'json',
        OTEL_EXPORTER_OTLP_ENDPOINT: '',
        OTEL_SERVICE_NAME: 'bursar-worker',
        WORKER_QUEUES: 'invoice-pdf',
      };
      // BENCH_CPU_PROFILE=1: a V8 profile of the concurrency-1 worker's timed renders.
      const profileDir = process.env.BENCH_CPU_PROFILE === '1' ? join(scratch, 'cpuprofile') : undefined;
      const startWorker = async (index: number, concurrency: number, profile = false) => {
        const profiling = profile && profileDir ? cpuProfileSetup(profileDir) : undefined;
        const worker = startProcess({
          name: `worker-${index}`,
          command: process.execPath,
          args: serviceArgs(profiling?.nodeArgs),
          cwd: join(repoRoot, 'services/worker'),
          env: {
            ...serviceEnv,
            ...profiling?.env,
            WORKER_PORT: String(workerPorts[index]),
            WORKER_CONCURRENCY: String(concurrency),
          },
          logFile: join(resultsDir, `pdf-worker-${index}.log`),
        });
        started.push(worker);
        await waitForUrl(`http://127.0.0.1:${workerPorts[index]}/readyz`, {
          process: worker,
          timeoutMs: 60_000,
        });
        return worker;
      };

      /** One worker process renders `ids` (queued all at once): documents per wall and per CPU second. */
      const workerRun = async (ids: string[], concurrency: number, profile = false): Promise<WorkerRun> => {
        const worker = await startWorker(0, concurrency, profile);
        // Its first jobs load the fonts, warm the pools and let the process settle (WARM).
        const warm = ids.slice(0, WARM);
        const timed = ids.slice(WARM);
        const add = (list: string[], tag: string) =>
          queue.addBulk(
            list.map((invoiceId) => ({
              name: 'invoice-pdf.render',
              data: { v: 1, payload: { invoiceId, schoolId: seeded.schoolId, revision: tag }, trace: {} },
              opts: { jobId: `invoice-pdf.render.${invoiceId}.${tag}`, removeOnComplete: true, attempts: 3 },
            })),
          );
        await add(warm, 'warm');
        while ((await documentCount(db, warm)) < warm.length) await sleep(20);
        const cpu0 = processCpuSeconds(worker.pid) ?? 0;
        const start = performance.now();
        const timedRun = async () => {
          await add(timed, 'timed');
          while ((await documentCount(db, timed)) < timed.length) await sleep(20);
        };
        if (profile && profileDir) {
          const { file } = await profiled(worker, profileDir, timedRun);
          writeFileSync(
            join(resultsDir, `pdf-cpuprofile-worker-c${concurrency}.txt`),
            `${formatCpuProfileSummary(summarizeCpuProfile(file, 25), timed.length)}\n`,
          );
        } else {
          await timedRun();
        }
        const wall = (performance.now() - start) / 1000;
        const cpu = (processCpuSeconds(worker.pid) ?? 0) - cpu0;
        await worker.stop();
        started.splice(started.indexOf(worker), 1);
        return { perWall: timed.length / wall, perCpu: timed.length / cpu };
      };

      console.error('  one worker, concurrency 1');
      const one = await workerRun(runOne, 1, true);
      console.error('  one worker, concurrency 4');
      const four = await workerRun(runFour, 4);

      // The batch: the api and two workers (one per core), as a school would ask for it.
      console.error(`  a ${batchIds.length}-invoice batch through the api and two workers`);
      const pem = await generateSigningKeyPem();
      const keys = await loadSigningKeys({ pem, keyFile: '/dev/null', production: false });
      const user = await db
        .insertInto('users')
        .values({
          schoolId: seeded.schoolId,
          email: 'pdf-bench@bench.test',
          name: 'PDF Bench Accountant',
          passwordHash: '!bench-no-login',
          role: 'accountant',
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      const token = await signAccessToken(keys, {
        sub: user.id,
        role: 'accountant',
        schoolId: seeded.schoolId,
      });
      const api = startApi({
        port: apiPort!,
        databaseUrl: DATABASE_URL,
        scratch,
        logFile: join(resultsDir, 'pdf-api.log'),
        env: { JWT_PRIVATE_KEY: pem, QUEUE_PREFIX, STORAGE_DIR: storageDir, PAY_LINK_SECRET, PUBLIC_URL },
      });
      started.push(api);
      await waitForUrl(`http://127.0.0.1:${apiPort}/api/readyz`, { process: api, timeoutMs: 60_000 });
      await startWorker(1, 4);
      await startWorker(2, 4);
      const apiUrl = `http://127.0.0.1:${apiPort}`;
      const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      const batchStart = performance.now();
      const created = await fetch(`${apiUrl}/api/invoices/pdf`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ invoiceIds: batchIds }),
      });
      if (created.status !== 202) throw new Error(`batch refused: ${created.status} ${await created.text()}`);
      const { batchId } = (await created.json()) as { batchId: string };
      const accepted = (performance.now() - batchStart) / 1000;
      let batch: { status: string; done: number; failed: number; total: number };
      do {
        await sleep(100);
        batch = (await (
          await fetch(`${apiUrl}/api/pdf-batches/${batchId}`, { headers })
        ).json()) as typeof batch;
      } while (batch.status !== 'completed');
      const batchSeconds = (performance.now() - batchStart) / 1000;

      const zipFile = join(scratch, 'batch.zip');
      const zipStart = performance.now();
      // node:http, not fetch: on some runs fetch's web stream turned into a Node stream kept this
      // process busy (100-175% CPU) while the api waited, and the download took minutes, not seconds.
      const download = await new Promise<IncomingMessage>((resolve, reject) =>
        httpGet(`${apiUrl}/api/pdf-batches/${batchId}/download`, { headers }, resolve).on('error', reject),
      );
      if (download.statusCode !== 200) throw new Error(`download failed: ${download.statusCode}`);
      await pipeline(download, createWriteStream(zipFile));
      const zipSeconds = (performance.now() - zipStart) / 1000;
      const entries = await new Promise<number>((resolve, reject) =>
        yauzl.open(zipFile, { lazyEntries: false, autoClose: true }, (error, zip) => {
          if (error) return reject(error);
          let count = 0;
          zip.on('entry', () => (count += 1));
          zip.on('end', () => resolve(count));
          zip.on('error', reject);
        }),
      );

      rows.push(
        {
          metric: 'renderer alone, per CPU second',
          unit: 'docs/s',
          value: bare.perCpu,
          better: 'higher',
          note: `one-page invoice, 8 lines, Devanagari and accented names, QR code, Noto Sans embedded; ${Math.round(bare.averageBytes / 1024)} KB each`,
        },
        {
          metric: 'worker c=1, per CPU second',
          unit: 'docs/s',
          value: one.perCpu,
          baseline: bare.perCpu,
          better: 'higher',
        },
        {
          metric: 'worker c=1, wall',
          unit: 'docs/s',
          value: one.perWall,
          baseline: bare.perWall,
          better: 'higher',
        },
        {
          metric: 'worker c=4, per CPU second',
          unit: 'docs/s',
          value: four.perCpu,
          baseline: bare.perCpu,
          better: 'higher',
        },
        {
          metric: 'worker c=4, wall',
          unit: 'docs/s',
          value: four.perWall,
          baseline: bare.perWall,
          better: 'higher',
        },
        {
          metric: `batch of ${batchIds.length}, end to end`,
          unit: 's',
          value: batchSeconds,
          // Two cores rendering at the renderer's own rate, with nothing else to do.
          baseline: batchIds.length / (2 * bare.perWall),
          better: 'lower',
          note: `api answered the batch in ${accepted.toFixed(2)} s; done ${batch.done}, failed ${batch.failed}`,
        },
        {
          metric: `zip of ${entries} PDFs, streamed`,
          unit: 's',
          value: zipSeconds,
          better: 'lower',
        },
      );
      if (batch.done !== batchIds.length || entries !== batchIds.length) {
        throw new BenchFailure(
          `the batch rendered ${batch.done} and zipped ${entries} of ${batchIds.length}`,
          rows,
        );
      }
      return rows;
    } finally {
      for (const process of started.reverse()) await process.stop();
      await queue.close();
      redis.disconnect();
      await db.destroy();
      rmSync(scratch, { recursive: true, force: true });
    }
  },
};

export default pdf;

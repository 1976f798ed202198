/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are walked as plain JSON */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { MAX_DAY_RANGE_DAYS } from '@bursar/contracts';
import { createLogger, createRedis } from '@bursar/platform';
import { addDays, localDate, testRedisUrl } from '@bursar/test-support';
import { createTestApi, type Caller } from '../testing/harness.js';
import { createAnalyticsCache, type AnalyticsCache } from './analytics.cache.js';
import {
  getCollections,
  getDashboard,
  getFeeHeadAnalytics,
  getStudentAnalytics,
} from './analytics.service.js';

const DAY_MS = 86_400_000;

// ── The test's own ledger: what it sent, and the figures that follow from it, computed here ──

interface Line {
  feeHead: string | null;
  amount: number;
}
interface Invoice {
  id: string;
  schoolId: string;
  studentId: string;
  lines: Line[];
  issueDate: string;
  dueDate: string;
  /** When it was voided, if it was. */
  voidedAt?: Date;
}
interface Money {
  invoiceId: string;
  schoolId: string;
  amount: number;
  at: Date;
}
interface School {
  id: string;
  currency: string;
  timezone: string;
}

const invoices: Invoice[] = [];
const payments: (Money & { id: string })[] = [];
const refunds: Money[] = [];

const total = (invoice: Invoice) => invoice.lines.reduce((sum, line) => sum + line.amount, 0);
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
const live = (school: School) => invoices.filter((i) => i.schoolId === school.id && !i.voidedAt);
const day = (school: School, at: Date) => localDate(school.timezone, at);
/** Applied to the invoice (payments less refunds), as of now, or of the end of local day `asOf`. */
function applied(invoice: Invoice, school?: School, asOf?: string) {
  const counts = (m: Money) => m.invoiceId === invoice.id && (!asOf || day(school!, m.at) <= asOf);
  return sum(payments.filter(counts).map((p) => p.amount)) - sum(refunds.filter(counts).map((r) => r.amount));
}
const balance = (invoice: Invoice) => total(invoice) - applied(invoice);
/** Net collected on local days `from`..`to` (payments by when received, refunds by when made). */
function collectedBetween(school: School, from: string, to: string) {
  const within = (m: Money) =>
    m.schoolId === school.id && day(school, m.at) >= from && day(school, m.at) <= to;
  return sum(payments.filter(within).map((p) => p.amount)) - sum(refunds.filter(within).map((r) => r.amount));
}

/** Byte order, no fee head (the empty name) first: the ledger's rule for where each head's piece starts. */
const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** Each fee head's piece of `amount` of an invoice: bounds over the heads in byte order, rounded toward zero. */
function pieces(invoice: Invoice, amount: number): Map<string | null, number> {
  const heads = new Map<string, bigint>();
  for (const line of invoice.lines)
    heads.set(line.feeHead ?? '', (heads.get(line.feeHead ?? '') ?? 0n) + BigInt(line.amount));
  const whole = BigInt(total(invoice));
  const result = new Map<string | null, number>();
  let lo = 0n;
  for (const head of [...heads.keys()].sort(byteOrder)) {
    const hi = lo + heads.get(head)!;
    result.set(head || null, Number((BigInt(amount) * hi) / whole - (BigInt(amount) * lo) / whole));
    lo = hi;
  }
  return result;
}

/** `part / whole` in percent with two decimals, half up (amounts here are positive). */
function rate(part: number, whole: number): number | null {
  if (!whole) return null;
  return Number((BigInt(part) * 20_000n + BigInt(whole)) / (2n * BigInt(whole))) / 100;
}

function expectedFeeHeads(school: School) {
  const heads = new Map<string | null, { invoiced: number; collected: number; outstanding: number }>();
  for (const invoice of live(school)) {
    const parts = [
      pieces(invoice, total(invoice)),
      pieces(invoice, applied(invoice)),
      pieces(invoice, balance(invoice)),
    ];
    for (const head of parts[0]!.keys()) {
      const row = heads.get(head) ?? { invoiced: 0, collected: 0, outstanding: 0 };
      row.invoiced += parts[0]!.get(head)!;
      row.collected += parts[1]!.get(head)!;
      row.outstanding += parts[2]!.get(head)!;
      heads.set(head, row);
    }
  }
  return [...heads.entries()]
    .map(([feeHead, row]) => ({
      feeHead,
      invoicedMinor: row.invoiced,
      collectedMinor: row.collected,
      outstandingMinor: row.outstanding,
      collectionRatePercent: rate(row.collected, row.invoiced),
    }))
    .sort(
      (a, b) =>
        b.collectedMinor - a.collectedMinor ||
        (a.feeHead === null ? 1 : b.feeHead === null ? -1 : byteOrder(a.feeHead, b.feeHead)),
    );
}

function expectedTotals(school: School) {
  const today = localDate(school.timezone);
  const schoolPayments = payments.filter((p) => p.schoolId === school.id);
  const schoolRefunds = refunds.filter((r) => r.schoolId === school.id);
  return {
    invoicedMinor: sum(live(school).map(total)),
    collectedMinor: sum(schoolPayments.map((p) => p.amount)) - sum(schoolRefunds.map((r) => r.amount)),
    outstandingMinor: sum(live(school).map(balance)),
    overdueMinor: sum(
      live(school)
        .filter((i) => i.dueDate < today)
        .map(balance),
    ),
    collectedTodayMinor: collectedBetween(school, today, today),
    collectedThisMonthMinor: collectedBetween(school, `${today.slice(0, 7)}-01`, today),
  };
}

function expectedDashboard(school: School) {
  const today = localDate(school.timezone);
  return {
    schoolId: school.id,
    currency: school.currency,
    today,
    totals: expectedTotals(school),
    topFeeHeads: expectedFeeHeads(school)
      .filter((head) => head.collectedMinor > 0)
      .slice(0, 5)
      .map(({ feeHead, collectedMinor }) => ({ feeHead, collectedMinor })),
    trend: Array.from({ length: 30 }, (_, k) => {
      const date = addDays(today, k - 29);
      return { date, collectedMinor: collectedBetween(school, date, date) };
    }),
  };
}

/** A Redis that hangs: it lets a client connect and get ready, then never answers a command. */
async function silentServer() {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('data', (data) => {
      // Answers what ioredis sends on connecting (CLIENT SETINFO, then INFO for its ready check),
      // so the client counts as ready; every command after that waits forever.
      for (const [, command] of data.toString().matchAll(/\r\n(setinfo|info)\r\n/gi)) {
        const body = '# Server\r\nloading:0\r\n';
        socket.write(
          command!.toLowerCase() === 'info' ? `$${Buffer.byteLength(body)}\r\n${body}\r\n` : '+OK\r\n',
        );
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

/** A port nothing listens on. */
async function closedPort() {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

describe('analytics', async () => {
  const api = await createTestApi();
  const redis = createRedis(testRedisUrl(), 'producer');
  afterAll(() => redis.quit());
  const pattern = `${api.queuePrefix}:analytics:*`;

  const madrid: School = {
    id: await api.createSchool({ currency: 'EUR', timezone: 'Europe/Madrid' }),
    currency: 'EUR',
    timezone: 'Europe/Madrid',
  };
  const newYork: School = {
    id: await api.createSchool({ currency: 'USD', timezone: 'America/New_York' }),
    currency: 'USD',
    timezone: 'America/New_York',
  };
  const accountant = await api.callerFor('accountant', madrid.id);
  const outsider = await api.callerFor('accountant', newYork.id);
  const build = api.build(accountant);
  const classId = await api.rows.class(madrid.id);
  const otherClassId = await api.rows.class(newYork.id);
  const students = {
    asha: await api.rows.student(madrid.id, { firstName: 'Asha', lastName: 'Rao', classId }),
    bruno: await api.rows.student(madrid.id, { firstName: 'Bruno', lastName: 'Diaz' }),
    chen: await api.rows.student(madrid.id, { firstName: 'Chen', lastName: 'Li', classId }),
    dana: await api.rows.student(madrid.id, { firstName: 'Dana', lastName: 'Diaz' }),
  };

  const madridDay = (days: number) => addDays(localDate(madrid.timezone), days);
  async function invoice(
    as: Caller,
    school: School,
    input: Omit<Invoice, 'id' | 'schoolId'>,
  ): Promise<Invoice> {
    const created = await api.build(as).invoice({
      studentId: input.studentId,
      issueDate: input.issueDate,
      dueDate: input.dueDate,
      lines: input.lines.map((line) => ({
        description: line.feeHead ?? 'Other',
        quantity: 1,
        unitAmountMinor: line.amount,
        ...(line.feeHead ? { feeHead: line.feeHead } : {}),
      })),
    });
    const row = { ...input, id: created.id as string, schoolId: school.id };
    invoices.push(row);
    return row;
  }
  /** A payment received `daysAgo` days ago (now for 0). */
  async function pay(as: Caller, school: School, target: Invoice, amount: number, daysAgo = 0) {
    const at = daysAgo ? new Date(Date.now() - daysAgo * DAY_MS) : undefined;
    const receipt = await api.build(as).payment(target.id, amount, at ? { paidAt: at.toISOString() } : {});
    payments.push({
      id: receipt.payment.id,
      invoiceId: target.id,
      schoolId: school.id,
      amount,
      at: new Date(receipt.payment.paidAt),
    });
    return receipt.payment.id as string;
  }

  // Madrid: four invoices over the last two months (one voided), paid in parts on several days, one refund.
  const tuitionAndBus = await invoice(accountant, madrid, {
    studentId: students.asha,
    issueDate: madridDay(-60),
    dueDate: madridDay(-45),
    lines: [
      { feeHead: 'Tuition', amount: 30_000 },
      { feeHead: 'Transport', amount: 10_000 },
    ],
  });
  const tuitionAndBooks = await invoice(accountant, madrid, {
    studentId: students.bruno,
    issueDate: madridDay(-5),
    dueDate: madridDay(20),
    lines: [
      { feeHead: 'Tuition', amount: 25_000 },
      { feeHead: 'Books', amount: 5_001 },
    ],
  });
  const withUnnamedLine = await invoice(accountant, madrid, {
    studentId: students.chen,
    issueDate: madridDay(-35),
    dueDate: madridDay(-10),
    lines: [
      { feeHead: 'Tuition', amount: 10_000 },
      { feeHead: null, amount: 2_003 },
    ],
  });
  const voided = await invoice(accountant, madrid, {
    studentId: students.dana,
    issueDate: madridDay(-20),
    dueDate: madridDay(-2),
    lines: [{ feeHead: 'Tuition', amount: 7_000 }],
  });
  await pay(accountant, madrid, tuitionAndBus, 15_000, 40);
  const refunded = await pay(accountant, madrid, tuitionAndBus, 25_000, 3);
  await pay(accountant, madrid, tuitionAndBooks, 10_000);
  await pay(accountant, madrid, withUnnamedLine, 5_000, 1);
  await build.refund(refunded, 2_000);
  refunds.push({ invoiceId: tuitionAndBus.id, schoolId: madrid.id, amount: 2_000, at: new Date() });
  const voidResponse = await api.request(accountant, 'POST', `/api/invoices/${voided.id}/void`, {
    body: { reason: 'Issued twice' },
  });
  expect(voidResponse.status).toBeLessThan(300);
  voided.voidedAt = new Date();

  // New York: one invoice, partly paid today.
  const nyStudent = await api.rows.student(newYork.id);
  const nyInvoice = await invoice(outsider, newYork, {
    studentId: nyStudent,
    issueDate: addDays(localDate(newYork.timezone), -9),
    dueDate: addDays(localDate(newYork.timezone), -1),
    lines: [{ feeHead: 'Tuition', amount: 9_000 }],
  });
  await pay(outsider, newYork, nyInvoice, 4_000);

  const get = (caller: Caller, path: string) => api.request(caller, 'GET', path);
  const analyticsKeys = () => redis.keys(pattern);
  const clearCache = async () => {
    const keys = await analyticsKeys();
    if (keys.length) await redis.del(...keys);
  };

  it("answers a school's dashboard: totals from the running totals, today, this month, top fee heads, a 30-day trend", async () => {
    const res = await get(accountant, `/api/analytics/dashboard?schoolId=${madrid.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(expectedDashboard(madrid));
    // The figures the test set out to make, spelled out once.
    expect(res.body.totals).toMatchObject({
      invoicedMinor: 82_004,
      collectedMinor: 53_000,
      outstandingMinor: 2_000 + 20_001 + 7_003,
      overdueMinor: 2_000 + 7_003,
    });
    expect(res.body.trend).toHaveLength(30);
    // Staff without a schoolId get their own school's.
    expect((await get(accountant, '/api/analytics/dashboard')).body).toEqual(res.body);
  });

  it('splits each invoice over its fee heads: invoiced, collected, outstanding, collection rate; pages them', async () => {
    const res = await get(accountant, `/api/analytics/fee-heads?schoolId=${madrid.id}`);
    expect(res.status).toBe(200);
    const expected = expectedFeeHeads(madrid);
    expect(res.body).toEqual({
      currency: 'EUR',
      data: expected,
      pagination: { limit: 50, offset: 0, total: expected.length },
    });
    expect(expected.map((head) => head.feeHead)).toEqual(['Tuition', 'Transport', 'Books', null]);
    const page = await get(accountant, `/api/analytics/fee-heads?schoolId=${madrid.id}&limit=2&offset=1`);
    expect(page.body.data).toEqual(expected.slice(1, 3));
    expect(page.body.pagination).toEqual({ limit: 2, offset: 1, total: 4 });
  });

  it('lists students by balance, amount paid or name, in pages that never overlap', async () => {
    const rows = await api.db
      .selectFrom('students')
      .select(['id', 'firstName', 'lastName'])
      .where('schoolId', '=', madrid.id)
      .execute();
    const model = rows.map((row) => {
      const mine = invoices.filter((i) => i.studentId === row.id);
      const paid = sum(payments.filter((p) => mine.some((i) => i.id === p.invoiceId)).map((p) => p.amount));
      const refundedMinor = sum(
        refunds.filter((r) => mine.some((i) => i.id === r.invoiceId)).map((r) => r.amount),
      );
      return {
        ...row,
        invoicedMinor: sum(mine.filter((i) => !i.voidedAt).map(total)),
        paidMinor: paid,
        refundedMinor,
        balanceMinor: sum(mine.filter((i) => !i.voidedAt).map(balance)),
      };
    });
    const byName = (a: (typeof model)[number], b: (typeof model)[number]) =>
      a.lastName.localeCompare(b.lastName) ||
      a.firstName.localeCompare(b.firstName) ||
      a.id.localeCompare(b.id);
    const ids = async (query: string) => {
      const res = await get(accountant, `/api/analytics/students?schoolId=${madrid.id}&${query}`);
      expect(res.status).toBe(200);
      return res.body.data.map((row: any) => row.studentId);
    };
    expect(await ids('')).toEqual(
      [...model].sort((a, b) => b.balanceMinor - a.balanceMinor || byName(a, b)).map((s) => s.id),
    );
    expect(await ids('sort=paid&order=asc')).toEqual(
      [...model].sort((a, b) => a.paidMinor - b.paidMinor || byName(a, b)).map((s) => s.id),
    );
    const names = [...model].sort(byName).map((s) => s.id);
    expect(await ids('sort=name')).toEqual(names);
    expect(await ids('sort=name&order=desc')).toEqual([...names].reverse());
    expect([...(await ids('sort=name&limit=3')), ...(await ids('sort=name&limit=3&offset=3'))]).toEqual(
      names,
    );

    const res = await get(accountant, `/api/analytics/students?schoolId=${madrid.id}&sort=name&limit=1`);
    const asha = model.find((s) => s.id === students.asha)!;
    expect(res.body.currency).toBe('EUR');
    expect(res.body.pagination).toEqual({ limit: 1, offset: 0, total: model.length });
    expect(
      (await get(accountant, `/api/analytics/students?schoolId=${madrid.id}&sort=balance`)).body.data,
    ).toContainEqual({
      studentId: asha.id,
      admissionNo: expect.any(String),
      firstName: 'Asha',
      lastName: 'Rao',
      classId,
      status: 'active',
      invoicedMinor: asha.invoicedMinor,
      paidMinor: asha.paidMinor,
      refundedMinor: asha.refundedMinor,
      balanceMinor: asha.balanceMinor,
      creditMinor: 0,
    });
  });

  it('reports collections per period from the rows as they stood then, narrowed by class or fee head', async () => {
    const today = madridDay(0);
    const from = madridDay(-60);
    const res = await get(
      accountant,
      `/api/analytics/collections?schoolId=${madrid.id}&from=${from}&to=${today}&granularity=month`,
    );
    expect(res.status).toBe(200);
    // Months from `from`, the first and last cut to the range.
    const periods: { start: string; end: string }[] = [];
    for (let start = from; start <= today;) {
      const next = new Date(Date.UTC(Number(start.slice(0, 4)), Number(start.slice(5, 7)), 1))
        .toISOString()
        .slice(0, 10);
      const end = addDays(next, -1) < today ? addDays(next, -1) : today;
      periods.push({ start, end });
      start = next;
    }
    const inPeriod = (date: string, p: { start: string; end: string }) => date >= p.start && date <= p.end;
    const mine = invoices.filter((i) => i.schoolId === madrid.id);
    const expected = periods.map((p) => ({
      start: p.start,
      end: p.end,
      invoicedMinor: sum(mine.filter((i) => !i.voidedAt && inPeriod(i.issueDate, p)).map(total)),
      dueMinor: sum(mine.filter((i) => !i.voidedAt && inPeriod(i.dueDate, p)).map(total)),
      collectedMinor: sum(
        payments
          .filter((m) => m.schoolId === madrid.id && inPeriod(day(madrid, m.at), p))
          .map((m) => m.amount),
      ),
      refundedMinor: sum(
        refunds
          .filter((m) => m.schoolId === madrid.id && inPeriod(day(madrid, m.at), p))
          .map((m) => m.amount),
      ),
      payments: payments.filter((m) => m.schoolId === madrid.id && inPeriod(day(madrid, m.at), p)).length,
      // As it stood at the end of the period: invoices issued by then and not void by then, less what was applied by then.
      outstandingMinor: sum(
        mine
          .filter((i) => i.issueDate <= p.end && !(i.voidedAt && day(madrid, i.voidedAt) <= p.end))
          .map((i) => total(i) - applied(i, madrid, p.end)),
      ),
    }));
    expect(res.body.periods).toEqual(expected.map((p) => expect.objectContaining(p)));
    expect(res.body.totals).toMatchObject({
      collectedMinor: 55_000,
      refundedMinor: 2_000,
      netCollectedMinor: 53_000,
      outstandingMinor: expectedTotals(madrid).outstandingMinor,
    });
    // The voided invoice was outstanding at the end of any earlier month it was issued in.
    expect(res.body.periods.map((p: any) => p.start)).toEqual(periods.map((p) => p.start));

    const inClass = await get(
      accountant,
      `/api/analytics/collections?schoolId=${madrid.id}&from=${from}&to=${today}&granularity=month&classId=${classId}`,
    );
    const classInvoices = new Set([tuitionAndBus.id, withUnnamedLine.id]);
    expect(inClass.body.totals.collectedMinor).toBe(
      sum(payments.filter((p) => classInvoices.has(p.invoiceId)).map((p) => p.amount)),
    );
    const tuition = await get(
      accountant,
      `/api/analytics/collections?schoolId=${madrid.id}&from=${from}&to=${today}&granularity=week&feeHead=Tuition`,
    );
    expect(tuition.status).toBe(200);
    const tuitionPiece = (m: Money) =>
      pieces(
        invoices.find((i) => i.id === m.invoiceId)!,
        m.amount,
      ).get('Tuition') ?? 0;
    expect(tuition.body.totals.collectedMinor).toBe(
      sum(payments.filter((m) => m.schoolId === madrid.id).map(tuitionPiece)),
    );
    expect(tuition.body.totals.refundedMinor).toBe(
      sum(refunds.filter((m) => m.schoolId === madrid.id).map(tuitionPiece)),
    );

    // Another school's class is not found, like any id of theirs.
    const foreign = await get(
      accountant,
      `/api/analytics/collections?schoolId=${madrid.id}&from=${from}&to=${today}&classId=${otherClassId}`,
    );
    expect(foreign.status).toBe(404);
  });

  it('serves a second read from Redis, and a payment moves the version so the next read shows it', async () => {
    await clearCache();
    const path = `/api/analytics/dashboard?schoolId=${madrid.id}`;
    const first = await get(accountant, path);
    const keys = (await analyticsKeys()).filter(
      (key) => key.includes(madrid.id) && key.includes(':dashboard:'),
    );
    expect(keys).toHaveLength(1);
    // Rewrite the cached entry: a read that answers with the rewrite was served by the cache.
    const marked = { ...first.body, today: '2000-01-01' };
    await redis.set(keys[0]!, JSON.stringify(marked), 'KEEPTTL');
    expect((await get(accountant, path)).body).toEqual(marked);
    expect(await redis.ttl(keys[0]!)).toBeGreaterThan(0);

    await pay(accountant, madrid, tuitionAndBooks, 1_234);
    const after = await get(accountant, path);
    expect(after.body).toEqual(expectedDashboard(madrid));
    expect(after.body.totals.collectedTodayMinor).toBe(first.body.totals.collectedTodayMinor + 1_234);
    const now = (await analyticsKeys()).filter(
      (key) => key.includes(madrid.id) && key.includes(':dashboard:'),
    );
    expect(now).toHaveLength(2);
    expect(now).toContain(keys[0]);

    // The same for the other endpoints: each answer is cached, and the payment shows in the next read.
    const students = `/api/analytics/students?schoolId=${madrid.id}&sort=paid`;
    const feeHeads = `/api/analytics/fee-heads?schoolId=${madrid.id}`;
    const before = [await get(accountant, students), await get(accountant, feeHeads)];
    await pay(accountant, madrid, tuitionAndBooks, 766);
    const [studentsAfter, feeHeadsAfter] = [await get(accountant, students), await get(accountant, feeHeads)];
    expect(studentsAfter.body).not.toEqual(before[0]!.body);
    expect(feeHeadsAfter.body.data).toEqual(expectedFeeHeads(madrid));
  });

  it('answers the same with the cache emptied', async () => {
    const paths = [
      `/api/analytics/dashboard?schoolId=${madrid.id}`,
      `/api/analytics/fee-heads?schoolId=${madrid.id}`,
      `/api/analytics/students?schoolId=${madrid.id}`,
      `/api/analytics/collections?schoolId=${madrid.id}&from=${madridDay(-40)}&to=${madridDay(0)}&granularity=week`,
    ];
    const cached = await Promise.all(paths.map(async (path) => (await get(accountant, path)).body));
    await clearCache();
    const fresh = await Promise.all(paths.map(async (path) => (await get(accountant, path)).body));
    expect(fresh).toEqual(cached);
    expect(fresh[0]).toEqual(expectedDashboard(madrid));
  });

  it('answers the same from PostgreSQL when Redis is unreachable or hangs, and says so once a minute', async () => {
    const lines: string[] = [];
    const logger = createLogger(
      'analytics-test',
      'warn',
      new Writable({
        write(chunk, _encoding, done) {
          lines.push(String(chunk));
          done();
        },
      }),
    );
    const hanging = await silentServer();
    afterAll(() => hanging.close());
    const clients = [
      createRedis(`redis://127.0.0.1:${await closedPort()}`, 'producer'),
      // Only the cache's own timeout can end a command here: the client has none.
      new Redis(hanging.port, '127.0.0.1', { maxRetriesPerRequest: 1, enableOfflineQueue: false }),
    ];
    afterAll(() => clients.forEach((client) => client.disconnect()));
    const refused: Error[] = [];
    clients[0]!.on('error', (error: Error) => refused.push(error));
    await once(clients[1]!, 'ready');

    for (const client of clients) {
      const cache: AnalyticsCache = createAnalyticsCache({ redis: client, prefix: api.queuePrefix, logger });
      const deps = { db: api.db, cache };
      const dashboard = await getDashboard(deps, accountant, { schoolId: madrid.id });
      expect(dashboard).toEqual(expectedDashboard(madrid));
      expect(
        await getFeeHeadAnalytics(deps, accountant, { schoolId: madrid.id, limit: 50, offset: 0 }),
      ).toEqual((await get(accountant, `/api/analytics/fee-heads?schoolId=${madrid.id}`)).body);
      expect(
        await getStudentAnalytics(deps, accountant, {
          schoolId: madrid.id,
          sort: 'name',
          limit: 50,
          offset: 0,
        }),
      ).toEqual((await get(accountant, `/api/analytics/students?schoolId=${madrid.id}&sort=name`)).body);
      const range = { from: madridDay(-30), to: madridDay(0) };
      expect(
        await getCollections(deps, accountant, { schoolId: madrid.id, ...range, granularity: 'day' }),
      ).toEqual(
        (
          await get(
            accountant,
            `/api/analytics/collections?schoolId=${madrid.id}&from=${range.from}&to=${range.to}`,
          )
        ).body,
      );
    }
    expect(refused.length).toBeGreaterThan(0);
    // Each client failed several times; one line for each cache (each has its own minute).
    expect(lines.filter((line) => line.includes('analytics cache'))).toHaveLength(2);
  });

  it('keeps to the caller’s school (404) and refuses bad queries (422)', async () => {
    const today = madridDay(0);
    for (const path of [
      `/api/analytics/dashboard?schoolId=${newYork.id}`,
      `/api/analytics/students?schoolId=${newYork.id}`,
      `/api/analytics/fee-heads?schoolId=${newYork.id}`,
      `/api/analytics/collections?schoolId=${newYork.id}&from=${today}&to=${today}`,
    ]) {
      const res = await get(accountant, path);
      expect(res.status, path).toBe(404);
      expect(res.body.code, path).toBe('not_found');
    }
    expect((await get(api.admin, `/api/analytics/dashboard?schoolId=${randomUUID()}`)).status).toBe(404);
    // A platform admin names any school.
    expect((await get(api.admin, `/api/analytics/dashboard?schoolId=${madrid.id}`)).body).toEqual(
      expectedDashboard(madrid),
    );

    const refused = async (path: string, field: string) => {
      const res = await get(accountant, path);
      expect(res.status, path).toBe(422);
      expect(res.body.errors.map((error: any) => error.path).join(), path).toContain(field);
    };
    await refused(
      `/api/analytics/collections?schoolId=${madrid.id}&from=${today}&to=${addDays(today, -1)}`,
      'from',
    );
    await refused(
      `/api/analytics/collections?schoolId=${madrid.id}&from=${addDays(today, -MAX_DAY_RANGE_DAYS)}&to=${today}&granularity=day`,
      'granularity',
    );
    await refused(`/api/analytics/students?schoolId=${madrid.id}&sort=owed`, 'sort');
    await refused(`/api/analytics/students?schoolId=${madrid.id}&order=up`, 'order');
    // The same range by month is fine.
    expect(
      (
        await get(
          accountant,
          `/api/analytics/collections?schoolId=${madrid.id}&from=${addDays(today, -MAX_DAY_RANGE_DAYS)}&to=${today}&granularity=month`,
        )
      ).status,
    ).toBe(200);
    // Only the dashboard goes without a school, and only for a platform admin.
    expect((await get(api.admin, '/api/analytics/students')).status).toBe(422);
  });

  it("gives a platform admin without a school every school's totals per currency, each on its own today", async () => {
    const res = await get(api.admin, '/api/analytics/dashboard');
    expect(res.status).toBe(200);
    const schools = await api.db
      .selectFrom('schools')
      .select(['id', 'currency', 'timezone'])
      .where('deletedAt', 'is', null)
      .execute();
    const currencies = [...new Set(schools.map((s) => s.currency))].sort();
    expect(res.body).toEqual({
      currencies: currencies.map((currency) => {
        const totals = schools
          .filter((s) => s.currency === currency)
          .map((s) => expectedTotals(s))
          .reduce(
            (a, b) =>
              Object.fromEntries(Object.entries(a).map(([k, v]) => [k, v + (b as any)[k]])) as typeof a,
          );
        return { currency, schools: schools.filter((s) => s.currency === currency).length, ...totals };
      }),
    });
    const usd = res.body.currencies.find((c: any) => c.currency === 'USD');
    expect(usd).toMatchObject({
      schools: 1,
      invoicedMinor: 9_000,
      collectedMinor: 4_000,
      overdueMinor: 5_000,
    });
    expect(res.body.currencies.find((c: any) => c.currency === 'EUR').invoicedMinor).toBe(82_004);

    // Cached under every school's version: a payment anywhere shows in the next read.
    await pay(outsider, newYork, nyInvoice, 500);
    const after = await get(api.admin, '/api/analytics/dashboard');
    expect(after.body.currencies.find((c: any) => c.currency === 'USD').collectedTodayMinor).toBe(
      usd.collectedTodayMinor + 500,
    );
  });
});

/**
 * Test helpers for the KPI reports: a school's history built through the
 * ledger's own functions at chosen instants, the rows read back plainly, and
 * an oracle that recomputes every report from those rows in TypeScript by the
 * documented rules (collections.ts, aging.ts, forecast.ts, scope.ts and
 * decision 0012), sharing no SQL and no code with the reports it judges (only
 * the contracts' term months). Only tests import this file.
 */
import {
  TERM_START_MONTHS,
  type AgingBuckets,
  type AgingResult,
  type CollectionsPeriod,
  type CollectionsResult,
  type ForecastResult,
  type ReportGranularity,
} from '@bursar/contracts';
import type { DB } from '@bursar/db';
import { addDays, daysBetween, localDate } from '@bursar/test-support';
import type { Kysely, Selectable } from 'kysely';
import type { Db } from '../db.js';
import { issueInvoice, voidInvoice, type InvoiceLineInput } from '../invoices.js';
import { applyPayment, refundPayment } from '../payments.js';

// ---------------------------------------------------------------------------
// Time zones, worked out with Intl alone.

const clocks = new Map<string, Intl.DateTimeFormat>();

/** The wall-clock time at `instant` in `timezone`, read as if it were UTC (so offset = wall − instant). */
function wallClock(instant: number, timezone: string): number {
  let clock = clocks.get(timezone);
  if (!clock) {
    clock = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    clocks.set(timezone, clock);
  }
  const parts = Object.fromEntries(
    clock.formatToParts(new Date(instant)).map((part) => [part.type, part.value]),
  );
  return Date.UTC(
    Number(parts.year),
    Number(parts.month) - 1,
    Number(parts.day),
    Number(parts.hour),
    Number(parts.minute),
    Number(parts.second),
  );
}

/** The instant local `date` `time` (`HH:MM:SS`, a time that exists that day) happens in `timezone`. */
export function zonedInstant(date: string, time: string, timezone: string): Date {
  const wall = Date.parse(`${date}T${time}Z`);
  let guess = wall;
  // The offset at the guess converges in two steps for any wall time that exists.
  for (let step = 0; step < 3; step += 1) guess = wall - (wallClock(guess, timezone) - guess);
  return new Date(guess);
}

const dayEnds = new Map<string, Date>();

/** The instant "as of local day `date`" means: the local midnight that starts the next day. */
export function endOfLocalDay(date: string, timezone: string): Date {
  const key = `${timezone} ${date}`;
  let end = dayEnds.get(key);
  if (!end) {
    end = zonedInstant(addDays(date, 1), '00:00:00', timezone);
    dayEnds.set(key, end);
  }
  return end;
}

/** The UTC offset in minutes at an instant in `timezone` (60 for CET, 120 for CEST). */
export function offsetMinutes(instant: Date, timezone: string): number {
  return Math.round((wallClock(instant.getTime(), timezone) - instant.getTime()) / 60_000);
}

/** `date` moved by whole calendar months (the day of month kept; only used on first days). */
export function addMonths(date: string, months: number): string {
  const [year, month, day] = date.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(year, month - 1 + months, day)).toISOString().slice(0, 10);
}

/** The last Sunday of a month (`month` 1-12): the day Europe changes its clocks in March and October. */
export function lastSunday(year: number, month: number): string {
  const last = new Date(Date.UTC(year, month, 0));
  return addDays(last.toISOString().slice(0, 10), -last.getUTCDay());
}

/** Byte order of UTF-8 names, as the reports order fee heads (collate "C"). */
export function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Nulls last, then byte order. */
function nullsLast(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return byteOrder(a, b);
}

// ---------------------------------------------------------------------------
// Scenarios: steps applied through the ledger, each at its own instant.

/** A student of a scenario, by key; `classKey` names one of the school's classes (none when absent). */
export interface StudentSpec {
  key: string;
  firstName: string;
  lastName: string;
  classKey?: string;
}

/** A student of a random history: due on `dueDay` of each month (default the 10th), all five months billed on the first day when `ahead`, a sibling discount when `discounted`. */
export interface ScenarioStudent extends StudentSpec {
  dueDay?: number;
  ahead?: boolean;
  discounted?: boolean;
}

/** One thing that happens to a school's money, at instant `at` (the faked clock when it is applied). */
export type Step =
  | {
      kind: 'issue';
      key: string;
      at: Date;
      student: string;
      issueDate: string;
      dueDate: string;
      lines: InvoiceLineInput[];
    }
  | { kind: 'pay'; key: string; at: Date; invoice: string; amount: bigint; paidAt: Date }
  | { kind: 'refund'; at: Date; payment: string; amount: bigint }
  | { kind: 'void'; at: Date; invoice: string };

/** Ids of what a scenario created, by the keys its steps used. */
export interface Applied {
  invoices: Map<string, string>;
  payments: Map<string, string>;
}

/** mulberry32: a small seeded generator, so every run builds the same history. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * Applies steps in time order (ties in the order given), each in its own
 * transaction after `setClock(step.at)`, so every `new Date()` inside the
 * ledger (credit moves, refunds, voids, default paid times) reads that instant.
 */
export async function applySteps(
  db: Kysely<DB>,
  schoolId: string,
  studentIds: Map<string, string>,
  steps: Step[],
  setClock: (at: Date) => void,
): Promise<Applied> {
  const applied: Applied = { invoices: new Map(), payments: new Map() };
  const ordered = steps
    .map((step, index) => ({ step, index }))
    .sort((a, b) => a.step.at.getTime() - b.step.at.getTime() || a.index - b.index);
  for (const { step } of ordered) {
    setClock(step.at);
    const label = `${step.kind} at ${step.at.toISOString()}: ${JSON.stringify(step, (_, v: unknown) =>
      typeof v === 'bigint' ? v.toString() : v,
    )}`;
    try {
      await db.transaction().execute(async (trx) => {
        switch (step.kind) {
          case 'issue': {
            const id = await issueInvoice(trx, {
              schoolId,
              studentId: studentIds.get(step.student)!,
              issueDate: step.issueDate,
              dueDate: step.dueDate,
              lines: step.lines,
            });
            applied.invoices.set(step.key, id);
            return;
          }
          case 'pay': {
            const { paymentId } = await applyPayment(trx, {
              schoolId,
              invoiceId: applied.invoices.get(step.invoice)!,
              amountMinor: step.amount,
              method: 'cash',
              paidAt: step.paidAt,
            });
            applied.payments.set(step.key, paymentId);
            return;
          }
          case 'refund':
            await refundPayment(trx, {
              schoolId,
              paymentId: applied.payments.get(step.payment)!,
              amountMinor: step.amount,
              reason: 'report test',
            });
            return;
          case 'void':
            await voidInvoice(trx, schoolId, applied.invoices.get(step.invoice)!, 'report test');
            return;
        }
      });
    } catch (error) {
      throw new Error(`${label} failed: ${(error as Error).message}`, { cause: error });
    }
  }
  return applied;
}

/** The days of a school's history: five months from `start`, with a clock change inside. */
export interface Timeline {
  timezone: string;
  /** The last Sunday of March or October, when the clocks change. */
  dst: string;
  /** The first of the month two months before the change. */
  start: string;
  /** First days of the five months. */
  months: string[];
  /** The last day of the fifth month: "today" when the reports are read. */
  end: string;
}

/**
 * The latest clock change (last Sunday of March or October) at least 160 days
 * before `today`, and the five months around it: the whole history lies in the
 * past of the real clock, and which change it is moves with the date the test runs.
 */
export function timelineBefore(today: string, timezone: string): Timeline {
  const year = Number(today.slice(0, 4));
  const changes = [year - 2, year - 1, year]
    .flatMap((y) => [lastSunday(y, 3), lastSunday(y, 10)])
    .filter((day) => daysBetween(day, today) >= 160)
    .sort();
  const dst = changes.at(-1)!;
  const start = addMonths(`${dst.slice(0, 7)}-01`, -2);
  const months = [0, 1, 2, 3, 4].map((m) => addMonths(start, m));
  return { timezone, dst, start, months, end: addDays(addMonths(start, 5), -1) };
}

/** The lines of a student's monthly invoice: several fee heads, some lines without one, a discount. */
function monthlyLines(index: number, month: number, discounted: boolean): InvoiceLineInput[] {
  const lines: InvoiceLineInput[] = [
    {
      description: 'Tuition',
      feeHead: 'Tuition',
      quantity: 1,
      unitAmountMinor: 30_000n + 1_000n * BigInt(index),
    },
  ];
  if (index % 2 === 0)
    lines.push({ description: 'Bus', feeHead: 'Transport', quantity: 1, unitAmountMinor: 7_333n });
  if (index % 3 === 0)
    lines.push({ description: 'Lab', feeHead: 'lab', quantity: 1, unitAmountMinor: 1_111n });
  if (index % 3 === 1)
    lines.push({ description: 'Lunch', feeHead: 'Lunch', quantity: 3, unitAmountMinor: 1_350n });
  if (index % 2 === 1 && month % 2 === 0)
    lines.push({ description: 'Books', feeHead: null, quantity: 1, unitAmountMinor: 2_501n });
  if (discounted)
    lines.push({
      description: 'Sibling discount',
      feeHead: 'Tuition',
      quantity: 1,
      unitAmountMinor: -3_000n,
    });
  return lines;
}

const lineTotal = (lines: InvoiceLineInput[]) =>
  lines.reduce((sum, line) => sum + BigInt(line.quantity) * line.unitAmountMinor, 0n);

/** Times of day near the midnights that cut periods, drawn often on purpose. */
const EDGE_TIMES = ['23:30:00', '00:30:00', '00:00:00', '23:59:59'];

/**
 * A random but seeded history over a timeline: a monthly invoice per student
 * (the fifth month's issued four days ahead, and students with `ahead` set
 * invoiced for all five months on the first day), paid on time, late, in
 * part, over (the excess is credit that moves to the next invoice) or not at
 * all, at times often next to local midnight, some entered days after they
 * were paid; some payments refunded, some paid invoices voided.
 */
export function randomSteps(timeline: Timeline, students: ScenarioStudent[], seed: number): Step[] {
  const random = seededRandom(seed);
  const tz = timeline.timezone;
  const int = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
  const last = zonedInstant(timeline.end, '17:00:00', tz);
  const cap = (at: Date) => (at > last ? last : at);
  const timeOfDay = () =>
    random() < 0.3
      ? EDGE_TIMES[int(0, EDGE_TIMES.length - 1)]!
      : `${String(int(8, 21)).padStart(2, '0')}:${String(int(0, 59)).padStart(2, '0')}:00`;
  const steps: Step[] = [];
  students.forEach((student, index) => {
    timeline.months.forEach((first, month) => {
      const key = `${student.key}-m${month}`;
      const dueDate = addDays(first, (student.dueDay ?? 10) - 1);
      const entered = student.ahead
        ? zonedInstant(timeline.start, '07:45:00', tz)
        : zonedInstant(month === 4 ? addDays(first, -4) : first, '08:15:00', tz);
      const lines = monthlyLines(index, month, student.discounted ?? false);
      steps.push({ kind: 'issue', key, at: entered, student: student.key, issueDate: first, dueDate, lines });
      const total = lineTotal(lines);
      const pays: { amount: bigint; day: string }[] = [];
      const span = daysBetween(first, dueDate);
      const r = random();
      if (r < 0.35) pays.push({ amount: total, day: addDays(first, int(0, span)) });
      else if (r < 0.55) pays.push({ amount: total, day: addDays(dueDate, int(2, 35)) });
      else if (r < 0.7) {
        const part = (total * BigInt(int(30, 70))) / 100n;
        pays.push({ amount: part, day: addDays(first, int(0, span)) });
        if (random() < 0.5) pays.push({ amount: total - part, day: addDays(dueDate, int(1, 30)) });
      } else if (r < 0.82)
        pays.push({ amount: total + BigInt(int(500, 15_000)), day: addDays(first, int(0, span)) });
      let lastPaid: Date | null = null;
      for (const [n, pay] of pays.entries()) {
        if (pay.day > timeline.end) continue;
        const paidAt = zonedInstant(pay.day, timeOfDay(), tz);
        let at = paidAt < entered ? new Date(entered.getTime() + 60_000) : paidAt;
        // Some payments are entered days after the money came (a cheque typed in on Monday).
        if (random() < 0.2) at = new Date(at.getTime() + int(1, 6) * 86_400_000);
        at = cap(at);
        if (paidAt > at) continue;
        const paymentKey = `${key}-p${n}`;
        steps.push({ kind: 'pay', key: paymentKey, at, invoice: key, amount: pay.amount, paidAt });
        if (!lastPaid || at > lastPaid) lastPaid = at;
        if (random() < 0.15) {
          const amount = (pay.amount * BigInt(int(20, 100))) / 100n || 1n;
          const refundAt = zonedInstant(addDays(localDate(tz, at), int(2, 20)), timeOfDay(), tz);
          if (refundAt > at && refundAt <= last)
            steps.push({ kind: 'refund', at: refundAt, payment: paymentKey, amount });
        }
      }
      if (lastPaid && random() < 0.08) {
        const voidAt = zonedInstant(addDays(localDate(tz, lastPaid), int(2, 10)), timeOfDay(), tz);
        if (voidAt > lastPaid && voidAt <= last) steps.push({ kind: 'void', at: voidAt, invoice: key });
      }
    });
  });
  return steps;
}

// ---------------------------------------------------------------------------
// The rows, read plainly.

type Row<T extends keyof DB> = Selectable<DB[T]>;

/** Everything of one school that a report may read, and nothing of any other school. */
export interface LedgerRows {
  school: Row<'schools'>;
  classes: Row<'classes'>[];
  students: Row<'students'>[];
  invoices: Row<'invoices'>[];
  lines: Row<'invoiceLines'>[];
  payments: Row<'payments'>[];
  refunds: Row<'refunds'>[];
  allocations: Row<'allocations'>[];
}

/** Reads every table whole and keeps one school's rows in code, so the filter is not the report's. */
export async function readLedger(db: Db, schoolId: string): Promise<LedgerRows> {
  const [schools, classes, students, invoices, lines, payments, refunds, allocations] = await Promise.all([
    db.selectFrom('schools').selectAll().execute(),
    db.selectFrom('classes').selectAll().execute(),
    db.selectFrom('students').selectAll().execute(),
    db.selectFrom('invoices').selectAll().execute(),
    db.selectFrom('invoiceLines').selectAll().execute(),
    db.selectFrom('payments').selectAll().execute(),
    db.selectFrom('refunds').selectAll().execute(),
    db.selectFrom('allocations').selectAll().execute(),
  ]);
  const own = invoices.filter((invoice) => invoice.schoolId === schoolId);
  const ids = new Set(own.map((invoice) => invoice.id));
  return {
    school: schools.find((school) => school.id === schoolId)!,
    classes: classes.filter((row) => row.schoolId === schoolId),
    students: students.filter((row) => row.schoolId === schoolId),
    invoices: own,
    lines: lines.filter((line) => ids.has(line.invoiceId)),
    payments: payments.filter((row) => row.schoolId === schoolId),
    refunds: refunds.filter((row) => row.schoolId === schoolId),
    allocations: allocations.filter((row) => row.schoolId === schoolId),
  };
}

// ---------------------------------------------------------------------------
// The oracle.

export interface Narrowing {
  classId?: string;
  feeHead?: string;
}

/** A fee head's running bounds on one invoice: the line amounts of the heads before it (`lo`) and through it (`hi`). */
interface HeadBounds {
  feeHead: string | null;
  lo: bigint;
  hi: bigint;
}

/** An invoice's heads in byte order of name (lines without a head count as the empty name, first). */
function headBounds(lines: Row<'invoiceLines'>[]): HeadBounds[] {
  const sums = new Map<string, bigint>();
  for (const line of lines)
    sums.set(line.feeHead ?? '', (sums.get(line.feeHead ?? '') ?? 0n) + line.amountMinor);
  let running = 0n;
  return [...sums.keys()].sort(byteOrder).map((name) => {
    const lo = running;
    running += sums.get(name)!;
    return { feeHead: name === '' ? null : name, lo, hi: running };
  });
}

/** A head's piece of amount `x` on an invoice of `total`: trunc(x·hi/total) − trunc(x·lo/total). */
export function piece(x: bigint, bounds: { lo: bigint; hi: bigint }, total: bigint): bigint {
  if (total <= 0n) return 0n;
  // bigint division truncates toward zero, as the rule asks.
  return (x * bounds.hi) / total - (x * bounds.lo) / total;
}

/** An invoice as a report with `narrowing` sees it: the share of any of its amounts that is the report's. */
interface ScopedInvoice {
  invoice: Row<'invoices'>;
  student: Row<'students'>;
  heads: HeadBounds[];
  share: (x: bigint) => bigint;
}

/** Ledger rows indexed once for the oracle. */
class Books {
  readonly timezone: string;
  readonly linesOf = new Map<string, Row<'invoiceLines'>[]>();
  readonly allocationsOf = new Map<string, Row<'allocations'>[]>();
  readonly studentById: Map<string, Row<'students'>>;
  readonly classById: Map<string, Row<'classes'>>;
  readonly invoiceById: Map<string, Row<'invoices'>>;
  readonly paymentById: Map<string, Row<'payments'>>;

  constructor(readonly rows: LedgerRows) {
    this.timezone = rows.school.timezone;
    for (const line of rows.lines)
      this.linesOf.set(line.invoiceId, [...(this.linesOf.get(line.invoiceId) ?? []), line]);
    for (const a of rows.allocations)
      this.allocationsOf.set(a.invoiceId, [...(this.allocationsOf.get(a.invoiceId) ?? []), a]);
    this.studentById = new Map(rows.students.map((row) => [row.id, row]));
    this.classById = new Map(rows.classes.map((row) => [row.id, row]));
    this.invoiceById = new Map(rows.invoices.map((row) => [row.id, row]));
    this.paymentById = new Map(rows.payments.map((row) => [row.id, row]));
  }

  /** The invoices a report narrowed so covers, by id. */
  scoped(narrowing: Narrowing): Map<string, ScopedInvoice> {
    const result = new Map<string, ScopedInvoice>();
    for (const invoice of this.rows.invoices) {
      const student = this.studentById.get(invoice.studentId)!;
      if (narrowing.classId && student.classId !== narrowing.classId) continue;
      const lines = this.linesOf.get(invoice.id) ?? [];
      const heads = headBounds(lines);
      let share = (x: bigint) => x;
      if (narrowing.feeHead) {
        if (!lines.some((line) => line.feeHead === narrowing.feeHead) || invoice.totalMinor <= 0n) continue;
        const bounds = heads.find((head) => head.feeHead === narrowing.feeHead)!;
        share = (x) => piece(x, bounds, invoice.totalMinor);
      }
      result.set(invoice.id, { invoice, student, heads, share });
    }
    return result;
  }

  /** On the books at the end of local day `day`: issued by then and not void before that instant. */
  onBooks(invoice: Row<'invoices'>, day: string): boolean {
    const end = endOfLocalDay(day, this.timezone);
    return invoice.issueDate <= day && !(invoice.voidedAt && invoice.voidedAt < end);
  }

  /** An invoice's whole balance at the end of local day `day`: total − paid + refunded + Σ allocations effective since. */
  balanceAt(invoice: Row<'invoices'>, day: string): bigint {
    const end = endOfLocalDay(day, this.timezone);
    const later = (this.allocationsOf.get(invoice.id) ?? [])
      .filter((a) => a.effectiveAt >= end)
      .reduce((sum, a) => sum + a.amountMinor, 0n);
    return invoice.totalMinor - invoice.paidMinor + invoice.refundedMinor + later;
  }

  private readonly days = new Map<number, string>();

  /** The local day of an instant (memoised: the same rows are asked about for every period). */
  local(instant: Date): string {
    let day = this.days.get(instant.getTime());
    if (day === undefined) {
      day = localDate(this.timezone, instant);
      this.days.set(instant.getTime(), day);
    }
    return day;
  }

  className(classId: string | null): string | null {
    return classId ? (this.classById.get(classId)?.name ?? null) : null;
  }
}

const sum = (values: bigint[]) => values.reduce((total, value) => total + value, 0n);
const minBig = (a: bigint, b: bigint) => (a < b ? a : b);
const maxBig = (a: bigint, b: bigint) => (a > b ? a : b);

/** `part / whole` in percent, hundredths rounded half away from zero; null without a whole. */
export function expectedPercent(part: bigint, whole: bigint): number | null {
  if (whole === 0n) return null;
  const negative = part < 0n !== whole < 0n;
  const p = (part < 0n ? -part : part) * 10_000n;
  const w = whole < 0n ? -whole : whole;
  const hundredths = p / w + ((p % w) * 2n >= w ? 1n : 0n);
  return Number(negative ? -hundredths : hundredths) / 100;
}

/** floor(a / b) for b > 0. */
function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n ? q - 1n : q;
}

/** The mean of `count` values summing to `total`, to one decimal, halves up. */
function mean(total: bigint, count: number): number | null {
  if (!count) return null;
  const n = BigInt(count);
  return Number(floorDiv(total * 20n + n, 2n * n)) / 10;
}

/** The first day of the period of `granularity` holding `date`. */
export function periodStartOf(date: string, granularity: ReportGranularity): string {
  switch (granularity) {
    case 'day':
      return date;
    case 'week':
      return addDays(date, -((new Date(`${date}T00:00:00Z`).getUTCDay() + 6) % 7));
    case 'month':
      return `${date.slice(0, 7)}-01`;
    case 'term': {
      const month = Number(date.slice(5, 7));
      const start = [...TERM_START_MONTHS].reverse().find((first) => first <= month)!;
      return `${date.slice(0, 4)}-${String(start).padStart(2, '0')}-01`;
    }
  }
}

/** The first day of the period after the one starting on `start`. */
export function nextPeriodStart(start: string, granularity: ReportGranularity, periods = 1): string {
  switch (granularity) {
    case 'day':
      return addDays(start, periods);
    case 'week':
      return addDays(start, 7 * periods);
    case 'month':
      return addMonths(start, periods);
    case 'term':
      return addMonths(start, 4 * periods);
  }
}

/** Every period from `from` to `to`, the first and last cut to the range. */
export function periodsBetween(from: string, to: string, granularity: ReportGranularity) {
  const periods: { start: string; end: string }[] = [];
  for (let p = periodStartOf(from, granularity); p <= to; p = nextPeriodStart(p, granularity)) {
    const end = addDays(nextPeriodStart(p, granularity), -1);
    periods.push({ start: p < from ? from : p, end: end > to ? to : end });
  }
  return periods;
}

interface PeriodSums {
  invoiced: bigint;
  due: bigint;
  collected: bigint;
  refunded: bigint;
  payments: number;
  days: bigint;
  outstanding: bigint;
}

function toPeriod(sums: PeriodSums): Omit<CollectionsPeriod, 'start' | 'end'> {
  return {
    invoicedMinor: Number(sums.invoiced),
    collectedMinor: Number(sums.collected),
    refundedMinor: Number(sums.refunded),
    netCollectedMinor: Number(sums.collected - sums.refunded),
    dueMinor: Number(sums.due),
    collectionRatePercent: expectedPercent(sums.collected, sums.due),
    outstandingMinor: Number(sums.outstanding),
    avgDaysToPay: mean(sums.days, sums.payments),
    payments: sums.payments,
  };
}

/**
 * The collections report by its doc comment: per period, invoices issued and
 * falling due (not void), payments by local paid day and refunds by local
 * day (each where its invoice counts), and the receivables at the period's
 * end as they stood then. Receivables move by events, each taken at its own
 * share (an invoice's total on its issue day, each allocation from its
 * effective time), and an invoice counts only while it is on the books:
 * issued by that day and not void before its end.
 */
export function expectedCollections(
  rows: LedgerRows,
  input: Narrowing & { from: string; to: string; granularity: ReportGranularity },
): CollectionsResult {
  const books = new Books(rows);
  const scoped = books.scoped(input);
  const within = (day: string, period: { start: string; end: string }) =>
    day >= period.start && day <= period.end;
  const sums = periodsBetween(input.from, input.to, input.granularity).map((period) => {
    const live = [...scoped.values()].filter(({ invoice }) => !invoice.voidedAt);
    const paid = rows.payments.filter(
      (p) => scoped.has(p.invoiceId) && within(books.local(p.paidAt), period),
    );
    const refunds = rows.refunds.filter((r) => {
      const payment = books.paymentById.get(r.paymentId)!;
      return scoped.has(payment.invoiceId) && within(books.local(r.createdAt), period);
    });
    const end = endOfLocalDay(period.end, books.timezone);
    const outstanding = [...scoped.values()]
      .filter(({ invoice }) => books.onBooks(invoice, period.end))
      .map(({ invoice, share }) => {
        const allocated = (books.allocationsOf.get(invoice.id) ?? []).filter((a) => a.effectiveAt < end);
        return share(invoice.totalMinor) - sum(allocated.map((a) => share(a.amountMinor)));
      });
    return {
      period,
      sums: {
        invoiced: sum(
          live
            .filter(({ invoice }) => within(invoice.issueDate, period))
            .map((s) => s.share(s.invoice.totalMinor)),
        ),
        due: sum(
          live
            .filter(({ invoice }) => within(invoice.dueDate, period))
            .map((s) => s.share(s.invoice.totalMinor)),
        ),
        collected: sum(paid.map((p) => scoped.get(p.invoiceId)!.share(p.amountMinor))),
        refunded: sum(
          refunds.map((r) => scoped.get(books.paymentById.get(r.paymentId)!.invoiceId)!.share(r.amountMinor)),
        ),
        payments: paid.length,
        days: sum(
          paid.map((p) =>
            BigInt(daysBetween(scoped.get(p.invoiceId)!.invoice.dueDate, books.local(p.paidAt))),
          ),
        ),
        outstanding: sum(outstanding),
      } satisfies PeriodSums,
    };
  });
  const add = (pick: (s: PeriodSums) => bigint) => sum(sums.map((s) => pick(s.sums)));
  return {
    kind: 'collections',
    currency: rows.school.currency,
    timezone: books.timezone,
    from: input.from,
    to: input.to,
    granularity: input.granularity,
    periods: sums.map(({ period, sums: s }) => ({ start: period.start, end: period.end, ...toPeriod(s) })),
    totals: toPeriod({
      invoiced: add((s) => s.invoiced),
      due: add((s) => s.due),
      collected: add((s) => s.collected),
      refunded: add((s) => s.refunded),
      payments: sums.reduce((n, s) => n + s.sums.payments, 0),
      days: add((s) => s.days),
      outstanding: sums.at(-1)?.sums.outstanding ?? 0n,
    }),
  };
}

/** An invoice open at the end of `asOf`, with its whole balance then and how many days past due it was. */
interface OpenInvoice extends ScopedInvoice {
  balance: bigint;
  days: number;
}

function openAsOf(books: Books, scoped: Map<string, ScopedInvoice>, asOf: string): OpenInvoice[] {
  return [...scoped.values()]
    .filter(({ invoice }) => books.onBooks(invoice, asOf))
    .map((s) => ({
      ...s,
      balance: books.balanceAt(s.invoice, asOf),
      days: daysBetween(s.invoice.dueDate, asOf),
    }))
    .filter((open) => open.balance > 0n);
}

type BucketKey = Exclude<keyof AgingBuckets, 'totalMinor'>;

function bucketOf(days: number): BucketKey {
  if (days <= 0) return 'current';
  if (days <= 30) return 'days1To30';
  if (days <= 60) return 'days31To60';
  if (days <= 90) return 'days61To90';
  return 'days90Plus';
}

function bucketsOf(entries: { amount: bigint; days: number }[]): AgingBuckets {
  const totals: Record<BucketKey, bigint> = {
    current: 0n,
    days1To30: 0n,
    days31To60: 0n,
    days61To90: 0n,
    days90Plus: 0n,
  };
  for (const entry of entries) totals[bucketOf(entry.days)] += entry.amount;
  return {
    current: Number(totals.current),
    days1To30: Number(totals.days1To30),
    days31To60: Number(totals.days31To60),
    days61To90: Number(totals.days61To90),
    days90Plus: Number(totals.days90Plus),
    totalMinor: Number(sum(entries.map((entry) => entry.amount))),
  };
}

function groupBy<T, K>(items: T[], key: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return groups;
}

/**
 * The aging report by its doc comment: the invoices open at the end of
 * `asOf` (issued by then, not void by then, a positive balance as it stood
 * then), the report's share of each balance by days overdue; by the
 * students' class now; by fee head (each balance split over its invoice's
 * heads); and the students with money overdue, most overdue first.
 */
export function expectedAging(rows: LedgerRows, input: Narrowing & { asOf: string }): AgingResult {
  const books = new Books(rows);
  const open = openAsOf(books, books.scoped(input), input.asOf);
  const owed = open.map((o) => ({ ...o, amount: o.share(o.balance) }));
  const byClass = [...groupBy(owed, (o) => o.student.classId).entries()]
    .map(([classId, entries]) => ({ classId, className: books.className(classId), ...bucketsOf(entries) }))
    .sort((a, b) => nullsLast(a.className, b.className) || nullsLast(a.classId, b.classId));
  const pieces = open.flatMap((o) =>
    o.heads
      .filter((head) => !input.feeHead || head.feeHead === input.feeHead)
      .map((head) => ({
        feeHead: head.feeHead,
        days: o.days,
        amount: piece(o.balance, head, o.invoice.totalMinor),
      })),
  );
  const byFeeHead = [...groupBy(pieces, (p) => p.feeHead).entries()]
    .map(([feeHead, entries]) => ({ feeHead, ...bucketsOf(entries) }))
    .sort((a, b) => nullsLast(a.feeHead, b.feeHead));
  const defaulters = [...groupBy(owed, (o) => o.student.id).values()]
    .map((entries) => {
      const overdue = entries.filter((o) => o.days > 0);
      const student = entries[0]!.student;
      return {
        student,
        overdue: sum(overdue.map((o) => o.amount)),
        balance: sum(entries.map((o) => o.amount)),
        oldest: overdue.map((o) => o.invoice.dueDate).sort()[0],
      };
    })
    .filter((d) => d.overdue > 0n)
    .sort(
      (a, b) =>
        (a.overdue === b.overdue ? 0 : a.overdue > b.overdue ? -1 : 1) ||
        (a.balance === b.balance ? 0 : a.balance > b.balance ? -1 : 1) ||
        byteOrder(a.student.lastName, b.student.lastName) ||
        byteOrder(a.student.firstName, b.student.firstName) ||
        byteOrder(a.student.id, b.student.id),
    )
    .map((d) => ({
      studentId: d.student.id,
      admissionNo: d.student.admissionNo,
      firstName: d.student.firstName,
      lastName: d.student.lastName,
      classId: d.student.classId,
      className: books.className(d.student.classId),
      overdueMinor: Number(d.overdue),
      balanceMinor: Number(d.balance),
      oldestDueDate: d.oldest!,
      daysOverdue: daysBetween(d.oldest!, input.asOf),
    }));
  return {
    kind: 'aging',
    currency: rows.school.currency,
    timezone: books.timezone,
    asOf: input.asOf,
    buckets: bucketsOf(owed),
    byClass,
    byFeeHead,
    defaulters,
  };
}

/** What forecast.ts documents: horizons after `asOf`, and the year of history before it. */
export const HORIZONS = [30, 60, 90];
const HISTORY_DAYS = 365;

/** `amount × onTime / due` rounded half up. */
function expectedOnTime(amount: bigint, onTime: bigint, due: bigint): bigint {
  if (due === 0n) return 0n;
  const product = amount * onTime;
  return product / due + ((product % due) * 2n >= due ? 1n : 0n);
}

/**
 * The forecast by its doc comment: the balances (as they stood at the end of
 * `asOf`) of invoices falling due in the next 30, 60 and 90 days, and the
 * part of each expected on time at the class's rate: of the invoices (not
 * void) that fell due in the year before `asOf`, the share paid by the end of
 * the due date (each allocation at its own share, between nothing and the
 * invoice). A class without history takes the school's rate; no history, no
 * expectation.
 */
export function expectedForecast(rows: LedgerRows, input: Narrowing & { asOf: string }): ForecastResult {
  const books = new Books(rows);
  const scoped = books.scoped(input);
  const historyFrom = addDays(input.asOf, -HISTORY_DAYS);
  const history = [...scoped.values()]
    .filter(
      ({ invoice }) =>
        !invoice.voidedAt &&
        invoice.dueDate >= historyFrom &&
        invoice.dueDate < input.asOf &&
        invoice.issueDate <= input.asOf,
    )
    .map(({ invoice, student, share }) => {
      const end = endOfLocalDay(invoice.dueDate, books.timezone);
      const paid = sum(
        (books.allocationsOf.get(invoice.id) ?? [])
          .filter((a) => a.effectiveAt < end)
          .map((a) => share(a.amountMinor)),
      );
      const due = share(invoice.totalMinor);
      return { student, due, onTime: minBig(due, maxBig(0n, paid)) };
    });
  const ahead = openAsOf(books, scoped, input.asOf).filter((o) => o.days < 0 && o.days >= -HORIZONS[2]!);
  const keys = new Set([...history.map((h) => h.student.id), ...ahead.map((a) => a.student.id)]);
  const classes = [
    ...groupBy(
      [...keys].map((id) => books.studentById.get(id)!),
      (s) => s.classId,
    ).keys(),
  ].sort((a, b) => nullsLast(books.className(a), books.className(b)) || nullsLast(a, b));
  const rowsByClass = classes.map((classId) => {
    const own = history.filter((h) => h.student.classId === classId);
    const next = ahead.filter((a) => a.student.classId === classId);
    return {
      classId,
      due: sum(own.map((h) => h.due)),
      onTime: sum(own.map((h) => h.onTime)),
      horizons: HORIZONS.map((days) => {
        const within = next.filter((a) => -a.days <= days);
        return { days, invoices: within.length, due: sum(within.map((a) => a.share(a.balance))) };
      }),
    };
  });
  const school = { onTime: sum(rowsByClass.map((r) => r.onTime)), due: sum(rowsByClass.map((r) => r.due)) };
  const totals = HORIZONS.map((days) => ({ days, invoices: 0, due: 0n, expected: 0n }));
  const horizon = (days: number, invoices: number, due: bigint, expected: bigint) => ({
    days,
    invoices,
    dueMinor: Number(due),
    expectedOnTimeMinor: Number(expected),
    expectedOnTimePercent: expectedPercent(expected, due),
  });
  const byClass = rowsByClass.map((row) => {
    const rate =
      row.due > 0n
        ? { ...row, basis: 'class' as const }
        : { ...school, basis: school.due > 0n ? ('school' as const) : ('none' as const) };
    return {
      classId: row.classId,
      className: books.className(row.classId),
      onTimeRatePercent: expectedPercent(rate.onTime, rate.due),
      rateBasis: rate.basis,
      horizons: row.horizons.map((h, index) => {
        const expected = expectedOnTime(h.due, rate.onTime, rate.due);
        totals[index]!.invoices += h.invoices;
        totals[index]!.due += h.due;
        totals[index]!.expected += expected;
        return horizon(h.days, h.invoices, h.due, expected);
      }),
    };
  });
  return {
    kind: 'forecast',
    currency: rows.school.currency,
    timezone: books.timezone,
    asOf: input.asOf,
    historyFrom,
    horizons: totals.map((t) => horizon(t.days, t.invoices, t.due, t.expected)),
    byClass,
  };
}

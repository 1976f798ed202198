/**
 * Property tests for the ledger against a real database: random sequences of
 * invoices (some rolled back after issuing), fee-plan issues, payments,
 * refunds, voids, edits and deletes over one to three students of a new
 * school, each applied through the ledger functions in its own transaction.
 *
 * Two independent oracles check every sequence:
 *  - `LedgerModel`, a plain JS model of the documented rules (what a payment
 *    applies, where credit goes, which allocation a refund reverses), compared
 *    with the database after every step;
 *  - `auditLedger`, which recomputes every invariant from the raw rows
 *    (allocations, payments, refunds, invoices) without trusting the running
 *    totals, and compares statuses and statements with that recomputation.
 */
import { AppError } from '@bursar/contracts';
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { freshDatabase } from '@bursar/test-support';
import {
  applyPayment,
  deleteInvoice,
  getInvoice,
  issueFeePlan,
  issueInvoice,
  refundPayment,
  replaceInvoiceLines,
  schoolStatement,
  studentStatement,
  voidInvoice,
  type Db,
  type InvoiceLineInput,
} from './index.js';

// ---------------------------------------------------------------------------
// Dates, worked out in JS without the ledger's helpers.

const DAY_MS = 86_400_000;

function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

/** Whole days from `from` to `to` (positive when `to` is later). */
function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS);
}

/** The calendar date in `timeZone` at `now`. */
function dateInZone(timeZone: string, now: Date): string {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
  })
    .formatToParts(now)
    .reduce<Record<string, string>>((all, part) => ({ ...all, [part.type]: part.value }), {});
  return `${parts.year}-${parts.month!.padStart(2, '0')}-${parts.day!.padStart(2, '0')}`;
}

const sumOf = (values: bigint[]) => values.reduce((sum, value) => sum + value, 0n);
const minOf = (a: bigint, b: bigint) => (a < b ? a : b);

/** Status by the documented rules, from amounts recomputed from allocation rows. */
function expectedStatus(
  invoice: { voided: boolean; total: bigint; applied: bigint; dueDate: string },
  today: string,
) {
  if (invoice.voided) return 'void';
  if (invoice.total - invoice.applied <= 0n) return 'paid';
  if (invoice.dueDate < today) return 'overdue';
  if (invoice.applied > 0n) return 'partial';
  return 'pending';
}

function agingBucket(asOf: string, dueDate: string) {
  const days = daysBetween(dueDate, asOf);
  if (days <= 0) return 'current';
  if (days <= 30) return 'days1To30';
  if (days <= 60) return 'days31To60';
  if (days <= 90) return 'days61To90';
  return 'days90Plus';
}

// ---------------------------------------------------------------------------
// The independent checker: every invariant, recomputed from raw rows.

/**
 * Recomputes the ledger of one school from its rows and returns every
 * disagreement (empty when the ledger is consistent). Reads through `db`, so
 * it also works inside a transaction that has not committed.
 */
async function auditLedger(db: Db, schoolId: string, asOf: string): Promise<string[]> {
  const problems: string[] = [];
  const check = (ok: boolean, message: string) => {
    if (!ok) problems.push(message);
  };

  const school = await db
    .selectFrom('schools')
    .select('timezone')
    .where('id', '=', schoolId)
    .executeTakeFirstOrThrow();
  const students = await db
    .selectFrom('students')
    .select(['id', 'firstName', 'lastName', 'creditMinor', 'status'])
    .where('schoolId', '=', schoolId)
    .execute();
  const invoices = await db.selectFrom('invoices').selectAll().where('schoolId', '=', schoolId).execute();
  const lines = await db
    .selectFrom('invoiceLines')
    .innerJoin('invoices', 'invoices.id', 'invoiceLines.invoiceId')
    .select([
      'invoiceLines.invoiceId',
      'invoiceLines.quantity',
      'invoiceLines.unitAmountMinor',
      'invoiceLines.amountMinor',
    ])
    .where('invoices.schoolId', '=', schoolId)
    .execute();
  const payments = await db.selectFrom('payments').selectAll().where('schoolId', '=', schoolId).execute();
  const allocations = await db
    .selectFrom('allocations')
    .selectAll()
    .where('schoolId', '=', schoolId)
    .execute();
  const refunds = await db.selectFrom('refunds').selectAll().where('schoolId', '=', schoolId).execute();

  const invoiceById = new Map(invoices.map((invoice) => [invoice.id, invoice]));
  const paymentById = new Map(payments.map((payment) => [payment.id, payment]));

  for (const allocation of allocations) {
    const positive = allocation.kind === 'payment' || allocation.kind === 'credit';
    check(
      positive ? allocation.amountMinor > 0n : allocation.amountMinor < 0n,
      `allocation ${allocation.id} (${allocation.kind}) has the wrong sign: ${allocation.amountMinor}`,
    );
    const payment = paymentById.get(allocation.paymentId);
    const invoice = invoiceById.get(allocation.invoiceId);
    check(
      payment !== undefined && invoice !== undefined && payment.studentId === invoice.studentId,
      `allocation ${allocation.id} moves money between students or schools`,
    );
  }

  // Per invoice: lines add up; paid − refunded equals its allocations, within [0, total].
  const applied = new Map<string, bigint>();
  for (const invoice of invoices) {
    const own = allocations.filter((a) => a.invoiceId === invoice.id);
    const net = sumOf(own.map((a) => a.amountMinor));
    applied.set(invoice.id, net);
    const invoiceLines = lines.filter((line) => line.invoiceId === invoice.id);
    for (const line of invoiceLines) {
      check(
        line.amountMinor === BigInt(line.quantity) * line.unitAmountMinor,
        `${invoice.number}: a line's amount is not quantity × unit`,
      );
    }
    check(
      sumOf(invoiceLines.map((line) => line.amountMinor)) === invoice.totalMinor,
      `${invoice.number}: total ${invoice.totalMinor} is not the sum of its lines`,
    );
    check(
      invoice.paidMinor - invoice.refundedMinor === net,
      `${invoice.number}: paid − refunded (${invoice.paidMinor} − ${invoice.refundedMinor}) ≠ Σ allocations ${net}`,
    );
    check(
      net >= 0n && net <= invoice.totalMinor,
      `${invoice.number}: Σ allocations ${net} outside [0, ${invoice.totalMinor}]`,
    );
    check(
      invoice.paidMinor === sumOf(own.filter((a) => a.kind !== 'refund').map((a) => a.amountMinor)),
      `${invoice.number}: paid_minor ${invoice.paidMinor} ≠ Σ payment, credit and void allocations`,
    );
    check(
      invoice.refundedMinor === -sumOf(own.filter((a) => a.kind === 'refund').map((a) => a.amountMinor)),
      `${invoice.number}: refunded_minor ${invoice.refundedMinor} ≠ Σ refund allocations`,
    );
    if (invoice.voidedAt) check(net === 0n, `${invoice.number}: void but still holds ${net}`);
    const perPayment = new Map<string, bigint>();
    for (const a of own) perPayment.set(a.paymentId, (perPayment.get(a.paymentId) ?? 0n) + a.amountMinor);
    for (const [paymentId, amount] of perPayment) {
      check(amount >= 0n, `${invoice.number}: payment ${paymentId} has a negative net allocation ${amount}`);
    }
  }

  // Per payment: refunds add up; unallocated = amount − refunded − Σ allocations ≥ 0.
  const unallocated = new Map<string, bigint>();
  for (const payment of payments) {
    const invoice = invoiceById.get(payment.invoiceId);
    check(invoice?.studentId === payment.studentId, `payment ${payment.id} is not for its invoice's student`);
    const own = allocations.filter((a) => a.paymentId === payment.id);
    const ownRefunds = refunds.filter((r) => r.paymentId === payment.id);
    const refunded = sumOf(ownRefunds.map((r) => r.amountMinor));
    check(
      payment.refundedMinor === refunded,
      `payment ${payment.id}: refunded_minor ${payment.refundedMinor} ≠ Σ refunds ${refunded}`,
    );
    check(
      -sumOf(own.filter((a) => a.kind === 'refund').map((a) => a.amountMinor)) ===
        sumOf(ownRefunds.map((r) => r.amountMinor - r.fromCreditMinor)),
      `payment ${payment.id}: refund allocations ≠ Σ (refund − from credit)`,
    );
    const left = payment.amountMinor - refunded - sumOf(own.map((a) => a.amountMinor));
    unallocated.set(payment.id, left);
    check(
      left >= 0n && left <= payment.amountMinor,
      `payment ${payment.id}: unallocated ${left} outside [0, amount]`,
    );
  }

  const expectedStudents = new Map<
    string,
    { invoiced: bigint; balance: bigint; paid: bigint; refunded: bigint; credit: bigint }
  >();
  for (const student of students) {
    const own = invoices.filter((invoice) => invoice.studentId === student.id);
    const live = own.filter((invoice) => !invoice.voidedAt);
    const ownPayments = payments.filter((payment) => payment.studentId === student.id);
    const credit = sumOf(ownPayments.map((payment) => unallocated.get(payment.id)!));
    check(
      student.creditMinor === credit,
      `student ${student.firstName}: credit_minor ${student.creditMinor} ≠ Σ unallocated ${credit}`,
    );
    const open = live.filter((invoice) => invoice.totalMinor - applied.get(invoice.id)! > 0n);
    check(
      credit === 0n || open.length === 0,
      `student ${student.firstName} holds credit ${credit} with open invoices ${open.map((i) => i.number).join(', ')}`,
    );
    const totals = {
      invoiced: sumOf(live.map((invoice) => invoice.totalMinor)),
      balance: sumOf(live.map((invoice) => invoice.totalMinor - applied.get(invoice.id)!)),
      paid: sumOf(ownPayments.map((payment) => payment.amountMinor)),
      refunded: sumOf(
        refunds.filter((r) => ownPayments.some((p) => p.id === r.paymentId)).map((r) => r.amountMinor),
      ),
      credit,
    };
    expectedStudents.set(student.id, totals);
    check(
      totals.invoiced - (totals.paid - totals.refunded) === totals.balance - totals.credit,
      `student ${student.firstName}: invoiced − net paid ≠ balance − credit (${JSON.stringify(totals, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v))})`,
    );
  }
  const schoolTotals = {
    invoiced: sumOf([...expectedStudents.values()].map((t) => t.invoiced)),
    balance: sumOf([...expectedStudents.values()].map((t) => t.balance)),
    paid: sumOf([...expectedStudents.values()].map((t) => t.paid)),
    refunded: sumOf([...expectedStudents.values()].map((t) => t.refunded)),
    credit: sumOf([...expectedStudents.values()].map((t) => t.credit)),
  };
  check(
    schoolTotals.invoiced - (schoolTotals.paid - schoolTotals.refunded) ===
      schoolTotals.balance - schoolTotals.credit,
    'school: invoiced − net paid ≠ balance − credit',
  );

  // Statuses and statements, against the recomputation.
  const expectedInvoice = (invoice: (typeof invoices)[number], today: string) => {
    const net = applied.get(invoice.id)!;
    return {
      balance: invoice.voidedAt ? 0n : invoice.totalMinor - net,
      status: expectedStatus(
        {
          voided: invoice.voidedAt !== null,
          total: invoice.totalMinor,
          applied: net,
          dueDate: invoice.dueDate,
        },
        today,
      ),
    };
  };
  for (const invoice of invoices) {
    const found = await getInvoice(db, schoolId, invoice.id, asOf);
    const expected = expectedInvoice(invoice, asOf);
    check(
      found?.status === expected.status,
      `${invoice.number}: getInvoice status ${found?.status}, expected ${expected.status} as of ${asOf}`,
    );
    check(
      found?.balanceMinor === expected.balance,
      `${invoice.number}: getInvoice balance ${found?.balanceMinor}, expected ${expected.balance}`,
    );
    check(
      found?.creditMinor === expectedStudents.get(invoice.studentId)!.credit,
      `${invoice.number}: getInvoice shows credit ${found?.creditMinor}, the student holds ${expectedStudents.get(invoice.studentId)!.credit}`,
    );
  }
  for (const student of students) {
    const expected = expectedStudents.get(student.id)!;
    const statement = await studentStatement(db, { schoolId, studentId: student.id, asOf });
    check(statement !== undefined, `no statement for ${student.firstName}`);
    if (!statement) continue;
    const t = statement.totals;
    check(
      t.invoicedMinor === expected.invoiced &&
        t.balanceMinor === expected.balance &&
        t.paidMinor === expected.paid &&
        t.refundedMinor === expected.refunded &&
        t.creditMinor === expected.credit,
      `student ${student.firstName}: statement totals ${JSON.stringify(t, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v))} ≠ recomputed`,
    );
    const own = invoices.filter((invoice) => invoice.studentId === student.id);
    check(
      statement.invoices.length === own.length,
      `student ${student.firstName}: statement lists ${statement.invoices.length} of ${own.length} invoices`,
    );
    for (const row of statement.invoices) {
      const invoice = invoiceById.get(row.id)!;
      const want = expectedInvoice(invoice, asOf);
      check(
        row.status === want.status,
        `${row.number}: statement status ${row.status}, expected ${want.status} as of ${asOf}`,
      );
      check(
        row.balanceMinor === want.balance,
        `${row.number}: statement balance ${row.balanceMinor}, expected ${want.balance}`,
      );
      const listed = row.payments.map((p) => p.id).sort();
      const actual = payments
        .filter((p) => p.invoiceId === row.id)
        .map((p) => p.id)
        .sort();
      check(
        JSON.stringify(listed) === JSON.stringify(actual),
        `${row.number}: statement lists other payments`,
      );
      for (const payment of row.payments) {
        check(
          payment.refunds.length === refunds.filter((r) => r.paymentId === payment.id).length,
          `${row.number}: statement lists other refunds for payment ${payment.id}`,
        );
      }
    }
    // from/to bound the invoices listed (by issue date), never the totals.
    const from = addDays(asOf, -90);
    const window = await studentStatement(db, { schoolId, studentId: student.id, from, to: asOf, asOf });
    check(
      JSON.stringify(window?.invoices.map((row) => row.id).sort()) ===
        JSON.stringify(
          own
            .filter((i) => i.issueDate >= from && i.issueDate <= asOf)
            .map((i) => i.id)
            .sort(),
        ),
      `student ${student.firstName}: statement from ${from} to ${asOf} lists other invoices`,
    );
    check(
      window?.totals.balanceMinor === expected.balance && window.totals.invoicedMinor === expected.invoiced,
      `student ${student.firstName}: a from/to window changed the whole-account totals`,
    );
    // Without asOf, statuses are judged against today in the school's time zone.
    const before = dateInZone(school.timezone, new Date());
    const today = await studentStatement(db, { schoolId, studentId: student.id });
    const after = dateInZone(school.timezone, new Date());
    if (today && before === after) {
      for (const row of today.invoices) {
        const want = expectedInvoice(invoiceById.get(row.id)!, before);
        check(
          row.status === want.status,
          `${row.number}: status today ${row.status}, expected ${want.status} on ${before} in ${school.timezone}`,
        );
      }
    }
  }

  const statement = await schoolStatement(db, { schoolId, asOf, limit: 100, offset: 0, sort: '-balance' });
  const t = statement.totals;
  check(
    t.invoicedMinor === schoolTotals.invoiced &&
      t.balanceMinor === schoolTotals.balance &&
      t.paidMinor === schoolTotals.paid &&
      t.refundedMinor === schoolTotals.refunded &&
      t.creditMinor === schoolTotals.credit,
    `school statement totals ${JSON.stringify(t, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v))} ≠ recomputed`,
  );
  check(
    statement.studentsCount === students.filter((s) => s.status === 'active').length,
    'school statement counts other students',
  );
  const aging = { current: 0n, days1To30: 0n, days31To60: 0n, days61To90: 0n, days90Plus: 0n };
  for (const invoice of invoices) {
    const balance = expectedInvoice(invoice, asOf).balance;
    if (balance > 0n) aging[agingBucket(asOf, invoice.dueDate)] += balance;
  }
  for (const key of Object.keys(aging) as (keyof typeof aging)[]) {
    check(
      statement.aging[key] === aging[key],
      `school aging ${key}: ${statement.aging[key]}, expected ${aging[key]} as of ${asOf}`,
    );
  }
  const order = [...students]
    .sort((a, b) => {
      const ba = expectedStudents.get(a.id)!.balance;
      const bb = expectedStudents.get(b.id)!.balance;
      if (ba !== bb) return ba > bb ? -1 : 1;
      return (
        a.lastName.localeCompare(b.lastName) ||
        a.firstName.localeCompare(b.firstName) ||
        a.id.localeCompare(b.id)
      );
    })
    .map((s) => s.id);
  check(
    JSON.stringify(statement.students.map((row) => row.id)) === JSON.stringify(order),
    'school statement does not list students by balance, largest first',
  );
  for (const row of statement.students) {
    const expected = expectedStudents.get(row.id)!;
    check(
      row.invoicedMinor === expected.invoiced &&
        row.balanceMinor === expected.balance &&
        row.paidMinor === expected.paid &&
        row.refundedMinor === expected.refunded &&
        row.creditMinor === expected.credit,
      `school statement row for ${row.firstName} ≠ recomputed`,
    );
  }
  return problems;
}

// ---------------------------------------------------------------------------
// The model: the documented rules in plain JS.

interface ModelInvoice {
  id: string;
  student: number;
  /** Set for invoices a fee plan issued: one per student and instalment. */
  instalmentId: string | null;
  number: string;
  issueDate: string;
  dueDate: string;
  total: bigint;
  paid: bigint;
  refunded: bigint;
  voided: boolean;
}

interface ModelPayment {
  id: string;
  student: number;
  invoiceId: string;
  amount: bigint;
  refunded: bigint;
  paidAt: number;
}

interface ModelAllocation {
  paymentId: string;
  invoiceId: string;
  amount: bigint;
  kind: 'payment' | 'credit' | 'void' | 'refund';
}

interface ModelPlan {
  id: string;
  heads: bigint[];
  instalments: { id: string; dueDate: string; shareBps: number }[];
  siblingDiscountBps: number;
  /** Students (indexes) who pay the sibling discount: a younger child of a primary payer. */
  discounted: Set<number>;
}

/**
 * The amounts of one instalment's lines, by the documented rules: each head
 * split by share, rounded down, the last instalment taking the remainder; the
 * sibling discount rounded half away from zero. Worked out apart from money.ts.
 */
function planLines(plan: ModelPlan, index: number, sibling: boolean): bigint[] {
  const last = plan.instalments.length - 1;
  const heads = plan.heads.map((amount) => {
    const floorShare = (i: number) => (amount * BigInt(plan.instalments[i]!.shareBps)) / 10_000n;
    if (index < last) return floorShare(index);
    return amount - sumOf(plan.instalments.slice(0, last).map((_, i) => floorShare(i)));
  });
  if (!sibling || plan.siblingDiscountBps === 0) return heads;
  const scaled = sumOf(heads) * BigInt(plan.siblingDiscountBps);
  const discount = scaled / 10_000n + (scaled % 10_000n >= 5_000n ? 1n : 0n);
  return discount > 0n ? [...heads, -discount] : heads;
}

class LedgerModel {
  invoices: ModelInvoice[] = [];
  payments: ModelPayment[] = [];
  allocations: ModelAllocation[] = [];
  refunds: { paymentId: string; amount: bigint; fromCredit: bigint }[] = [];
  credit: bigint[];
  private counters = new Map<number, number>();

  constructor(students: number) {
    this.credit = Array.from({ length: students }, () => 0n);
  }

  balance(invoice: ModelInvoice): bigint {
    return invoice.voided ? 0n : invoice.total - invoice.paid + invoice.refunded;
  }

  net(paymentId: string, invoiceId: string): bigint {
    return sumOf(
      this.allocations
        .filter((a) => a.paymentId === paymentId && a.invoiceId === invoiceId)
        .map((a) => a.amount),
    );
  }

  unallocated(payment: ModelPayment): bigint {
    return (
      payment.amount -
      payment.refunded -
      sumOf(this.allocations.filter((a) => a.paymentId === payment.id).map((a) => a.amount))
    );
  }

  invoice(id: string): ModelInvoice {
    return this.invoices.find((invoice) => invoice.id === id)!;
  }

  /** The number the next invoice issued on `issueDate` must get: per-year counter, no gaps. */
  nextNumber(issueDate: string): string {
    const year = Number(issueDate.slice(0, 4));
    return `INV-${year}-${String((this.counters.get(year) ?? 0) + 1).padStart(6, '0')}`;
  }

  issue(invoice: Omit<ModelInvoice, 'paid' | 'refunded' | 'voided' | 'instalmentId'>): void {
    const year = Number(invoice.issueDate.slice(0, 4));
    this.counters.set(year, (this.counters.get(year) ?? 0) + 1);
    this.invoices.push({ ...invoice, instalmentId: null, paid: 0n, refunded: 0n, voided: false });
    this.applyCredit(invoice.student);
  }

  /**
   * Issues a fee plan to `students` (indexes, in the order the ledger takes
   * them): each (student, instalment) pair without an invoice gets one, numbered
   * in that order; then each student's credit moves. Returns what was skipped.
   */
  issuePlan(
    plan: ModelPlan,
    students: number[],
    issueDate: string,
    ids: string[],
  ): { skipped: number; issued: ModelInvoice[] } {
    const has = (student: number, instalmentId: string) =>
      this.invoices.some((invoice) => invoice.student === student && invoice.instalmentId === instalmentId);
    const skipped = students.reduce(
      (count, student) => count + plan.instalments.filter((instalment) => has(student, instalment.id)).length,
      0,
    );
    const issued: ModelInvoice[] = [];
    for (const student of students) {
      plan.instalments.forEach((instalment, index) => {
        if (has(student, instalment.id)) return;
        issued.push({
          id: ids[issued.length]!,
          student,
          instalmentId: instalment.id,
          number: this.nextNumber(issueDate),
          issueDate,
          dueDate: instalment.dueDate,
          total: sumOf(planLines(plan, index, plan.discounted.has(student))),
          paid: 0n,
          refunded: 0n,
          voided: false,
        });
        const year = Number(issueDate.slice(0, 4));
        this.counters.set(year, (this.counters.get(year) ?? 0) + 1);
      });
    }
    this.invoices.push(...issued);
    for (const student of new Set(issued.map((invoice) => invoice.student))) this.applyCredit(student);
    return { skipped, issued };
  }

  pay(invoiceId: string, payment: { id: string; amount: bigint; paidAt: number }) {
    const invoice = this.invoice(invoiceId);
    this.payments.push({ ...payment, student: invoice.student, invoiceId, refunded: 0n });
    const balance = this.balance(invoice);
    const applied = minOf(payment.amount, balance > 0n ? balance : 0n);
    if (applied > 0n) {
      this.allocations.push({ paymentId: payment.id, invoiceId, amount: applied, kind: 'payment' });
      invoice.paid += applied;
    }
    const excess = payment.amount - applied;
    if (excess > 0n) {
      this.credit[invoice.student]! += excess;
      this.applyCredit(invoice.student);
    }
    return { applied, credited: excess };
  }

  /** Credit first, then the payment's own invoice, then the newest other invoices it reached. */
  refund(paymentId: string, amount: bigint) {
    const payment = this.payments.find((p) => p.id === paymentId)!;
    const reached = this.invoices
      .filter((invoice) => this.net(paymentId, invoice.id) > 0n)
      .sort((a, b) => {
        if ((a.id === payment.invoiceId) !== (b.id === payment.invoiceId))
          return a.id === payment.invoiceId ? -1 : 1;
        if (a.issueDate !== b.issueDate) return a.issueDate > b.issueDate ? -1 : 1;
        return a.number > b.number ? -1 : 1;
      });
    const fromCredit = minOf(amount, this.unallocated(payment));
    let rest = amount - fromCredit;
    for (const invoice of reached) {
      if (rest === 0n) break;
      const take = minOf(rest, this.net(paymentId, invoice.id));
      this.allocations.push({ paymentId, invoiceId: invoice.id, amount: -take, kind: 'refund' });
      invoice.refunded += take;
      rest -= take;
    }
    payment.refunded += amount;
    this.credit[payment.student]! -= fromCredit;
    this.refunds.push({ paymentId, amount, fromCredit });
    this.applyCredit(payment.student);
    return { fromCredit };
  }

  voidInvoice(invoiceId: string): void {
    const invoice = this.invoice(invoiceId);
    let released = 0n;
    for (const payment of this.payments) {
      const net = this.net(payment.id, invoiceId);
      if (net > 0n) {
        this.allocations.push({ paymentId: payment.id, invoiceId, amount: -net, kind: 'void' });
        released += net;
      }
    }
    invoice.voided = true;
    invoice.paid -= released;
    this.credit[invoice.student]! += released;
    this.applyCredit(invoice.student);
  }

  /** Lines may change only while nothing was ever paid on the invoice. */
  canReplaceLines(invoice: ModelInvoice): boolean {
    return !invoice.voided && invoice.paid === 0n && !this.payments.some((p) => p.invoiceId === invoice.id);
  }

  edit(invoiceId: string, changes: { total?: bigint; dueDate?: string }): void {
    const invoice = this.invoice(invoiceId);
    if (changes.total !== undefined) invoice.total = changes.total;
    if (changes.dueDate !== undefined) invoice.dueDate = changes.dueDate;
    this.applyCredit(invoice.student);
  }

  /** Only an unpaid invoice holding the newest number of its year can go (numbers stay gap-free). */
  canDelete(invoice: ModelInvoice): boolean {
    const year = Number(invoice.number.slice(4, 8));
    return (
      !this.allocations.some((a) => a.invoiceId === invoice.id) &&
      !this.payments.some((p) => p.invoiceId === invoice.id) &&
      Number(invoice.number.slice(9)) === this.counters.get(year)
    );
  }

  delete(invoiceId: string): void {
    const invoice = this.invoice(invoiceId);
    const year = Number(invoice.number.slice(4, 8));
    this.counters.set(year, (this.counters.get(year) ?? 1) - 1);
    this.invoices = this.invoices.filter((candidate) => candidate.id !== invoiceId);
  }

  /** Credit goes to open invoices oldest due first, taken from payments oldest first. */
  applyCredit(student: number): void {
    let credit = this.credit[student]!;
    if (credit <= 0n) return;
    const open = this.invoices
      .filter((invoice) => invoice.student === student && !invoice.voided && this.balance(invoice) > 0n)
      .sort(
        (a, b) =>
          a.dueDate.localeCompare(b.dueDate) ||
          a.issueDate.localeCompare(b.issueDate) ||
          (a.number < b.number ? -1 : 1),
      );
    if (!open.length) return;
    const sources = this.payments
      .filter((payment) => payment.student === student)
      .map((payment) => ({ payment, available: this.unallocated(payment) }))
      .filter((source) => source.available > 0n)
      .sort((a, b) => a.payment.paidAt - b.payment.paidAt || (a.payment.id < b.payment.id ? -1 : 1));
    let source = 0;
    for (const invoice of open) {
      let due = this.balance(invoice);
      while (due > 0n && credit > 0n && source < sources.length) {
        const take = minOf(minOf(due, sources[source]!.available), credit);
        this.allocations.push({
          paymentId: sources[source]!.payment.id,
          invoiceId: invoice.id,
          amount: take,
          kind: 'credit',
        });
        invoice.paid += take;
        due -= take;
        credit -= take;
        sources[source]!.available -= take;
        if (sources[source]!.available === 0n) source += 1;
      }
      if (credit === 0n || source >= sources.length) break;
    }
    this.credit[student] = credit;
  }
}

/** The database agrees with the model: every running total, allocation and refund. */
async function compareWithModel(
  db: Db,
  schoolId: string,
  studentIds: string[],
  model: LedgerModel,
  step: string,
) {
  const show = (value: unknown) =>
    JSON.stringify(value, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
  const invoices = await db
    .selectFrom('invoices')
    .select([
      'id',
      'studentId',
      'number',
      'instalmentId',
      'dueDate',
      'totalMinor',
      'paidMinor',
      'refundedMinor',
      'voidedAt',
    ])
    .where('schoolId', '=', schoolId)
    .orderBy('number')
    .execute();
  expect(
    show(
      invoices.map((i) => [
        i.id,
        i.number,
        studentIds.indexOf(i.studentId),
        i.instalmentId,
        i.dueDate,
        i.totalMinor,
        i.paidMinor,
        i.refundedMinor,
        i.voidedAt !== null,
      ]),
    ),
    `invoices after ${step}`,
  ).toBe(
    show(
      [...model.invoices]
        .sort((a, b) => (a.number < b.number ? -1 : 1))
        .map((i) => [
          i.id,
          i.number,
          i.student,
          i.instalmentId,
          i.dueDate,
          i.total,
          i.paid,
          i.refunded,
          i.voided,
        ]),
    ),
  );
  const payments = await db
    .selectFrom('payments')
    .select(['id', 'refundedMinor'])
    .where('schoolId', '=', schoolId)
    .orderBy('id')
    .execute();
  expect(show(payments.map((p) => [p.id, p.refundedMinor])), `payments after ${step}`).toBe(
    show([...model.payments].sort((a, b) => (a.id < b.id ? -1 : 1)).map((p) => [p.id, p.refunded])),
  );
  const students = await db
    .selectFrom('students')
    .select(['id', 'creditMinor'])
    .where('schoolId', '=', schoolId)
    .execute();
  expect(
    show(studentIds.map((id) => students.find((s) => s.id === id)!.creditMinor)),
    `credit after ${step}`,
  ).toBe(show(model.credit));
  const allocations = await db
    .selectFrom('allocations')
    .select(['paymentId', 'invoiceId', 'amountMinor', 'kind'])
    .where('schoolId', '=', schoolId)
    .execute();
  const key = (a: { paymentId: string; invoiceId: string; amount: bigint; kind: string }) =>
    `${a.paymentId}/${a.invoiceId}/${a.kind}/${a.amount}`;
  expect(
    allocations.map((a) => key({ ...a, amount: a.amountMinor })).sort(),
    `allocations after ${step}`,
  ).toEqual(model.allocations.map(key).sort());
}

// ---------------------------------------------------------------------------
// Operations.

type LineSpec = { quantity: number; unit: number };
/**
 * How much to pay, relative to the model's balances: `spread` pays off every
 * open invoice of the student (and a little more), so one payment's money
 * reaches several invoices and a later refund has to pick which to reopen.
 */
type PayAmount = { kind: 'exact' | 'below' | 'above' | 'any' | 'spread'; n: number };
/**
 * `most` leaves a little of the payment unrefunded, so the order allocations are reversed in shows.
 * The boundaries get their own kinds, because a uniform amount almost never lands on them:
 * `zero` (refused), `one` (the smallest refund), `all` (exactly what is left) and `oneOver`
 * (one minor unit more than is left, refused).
 */
type RefundAmount = { kind: 'zero' | 'one' | 'all' | 'oneOver' | 'part' | 'most' | 'over'; n: number };
type Op =
  | {
      kind: 'issue';
      student: number;
      issuedDaysAgo: number;
      dueAfter: number;
      lines: LineSpec[];
      rollback: boolean;
    }
  | { kind: 'plan'; students: number[]; issuedDaysAgo: number }
  | { kind: 'pay'; invoice: number; amount: PayAmount; minutesAgo: number }
  | { kind: 'refund'; payment: number; amount: RefundAmount }
  | { kind: 'void'; invoice: number }
  | { kind: 'edit'; invoice: number; lines: LineSpec[] | null; dueAfter: number | null }
  | { kind: 'delete'; invoice: number };

const lineSpecs = fc.array(
  fc.record({ quantity: fc.integer({ min: 1, max: 3 }), unit: fc.integer({ min: 1, max: 20_000 }) }),
  { minLength: 1, maxLength: 3 },
);
const issueOp = fc.record({
  kind: fc.constant('issue' as const),
  student: fc.nat(),
  // Up to 400 days back, so sequences cross a year and use two invoice counters.
  issuedDaysAgo: fc.integer({ min: 0, max: 400 }),
  dueAfter: fc.integer({ min: 0, max: 60 }),
  lines: lineSpecs,
  // The transaction fails after issuing: its number must go back to the counter.
  rollback: fc.oneof(
    { arbitrary: fc.constant(false), weight: 9 },
    { arbitrary: fc.constant(true), weight: 1 },
  ),
});
const op: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: issueOp, weight: 3 },
  {
    arbitrary: fc.record({
      kind: fc.constant('pay' as const),
      invoice: fc.nat(),
      amount: fc.record({
        kind: fc.constantFrom(
          'exact' as const,
          'below' as const,
          'above' as const,
          'any' as const,
          'spread' as const,
        ),
        n: fc.integer({ min: 1, max: 60_000 }),
      }),
      minutesAgo: fc.integer({ min: 0, max: 60 * 24 * 30 }),
    }),
    weight: 5,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('refund' as const),
      payment: fc.nat(),
      amount: fc.record({
        // Two refunds in three try a boundary; the rest an amount somewhere inside or beyond.
        kind: fc.oneof(
          {
            arbitrary: fc.constantFrom('zero' as const, 'one' as const, 'all' as const, 'oneOver' as const),
            weight: 2,
          },
          { arbitrary: fc.constantFrom('part' as const, 'most' as const, 'over' as const), weight: 1 },
        ),
        n: fc.integer({ min: 1, max: 30_000 }),
      }),
    }),
    weight: 3,
  },
  { arbitrary: fc.record({ kind: fc.constant('void' as const), invoice: fc.nat() }), weight: 1 },
  {
    arbitrary: fc.record({
      kind: fc.constant('edit' as const),
      invoice: fc.nat(),
      lines: fc.option(lineSpecs),
      dueAfter: fc.option(fc.integer({ min: 0, max: 60 })),
    }),
    weight: 1,
  },
  { arbitrary: fc.record({ kind: fc.constant('delete' as const), invoice: fc.nat() }), weight: 1 },
  {
    arbitrary: fc.record({
      kind: fc.constant('plan' as const),
      students: fc.array(fc.nat(), { minLength: 1, maxLength: 3 }),
      issuedDaysAgo: fc.integer({ min: 0, max: 400 }),
    }),
    weight: 1,
  },
);

/** Basis-point shares summing to 10000, from random cut points. */
const shareSplit = fc.uniqueArray(fc.integer({ min: 1, max: 9_999 }), { maxLength: 3 }).map((cuts) => {
  const points = [0, ...[...cuts].sort((a, b) => a - b), 10_000];
  return points.slice(1).map((point, i) => point - points[i]!);
});
const planSpec = fc.record({
  heads: fc.array(fc.integer({ min: 1, max: 500_000 }), { minLength: 1, maxLength: 3 }),
  shares: shareSplit,
  siblingDiscountBps: fc.constantFrom(0, 500, 1_000, 1_250, 3_333),
});

const scenario = fc.record({
  students: fc.integer({ min: 1, max: 3 }),
  timezone: fc.constantFrom(
    'Asia/Kolkata',
    'Pacific/Kiritimati',
    'Pacific/Pago_Pago',
    'America/St_Johns',
    'UTC',
  ),
  asOfShift: fc.integer({ min: -40, max: 40 }),
  plan: planSpec,
  ops: fc.tuple(issueOp, fc.array(op, { maxLength: 24 })).map(([first, rest]) => [first, ...rest]),
});

type ValueOf<A> = A extends fc.Arbitrary<infer T> ? T : never;

function toLines(specs: LineSpec[]): InvoiceLineInput[] {
  return specs.map((spec, i) => ({
    description: `Fee ${i + 1}`,
    quantity: spec.quantity,
    unitAmountMinor: BigInt(spec.unit),
  }));
}

/** Thrown to roll a transaction back on purpose. */
class Rollback extends Error {}

async function expectConflict(work: Promise<unknown>, step: string): Promise<void> {
  const error = await work.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error, `${step} should be refused`).toBeInstanceOf(AppError);
  expect((error as AppError).code, `${step}: ${(error as Error).message}`).toBe('conflict');
}

// ---------------------------------------------------------------------------

describe('ledger properties', async () => {
  const { db } = await freshDatabase();
  const today = new Date().toISOString().slice(0, 10);

  async function seedSchool(timezone: string, count: number) {
    const school = await db
      .insertInto('schools')
      .values({ name: `Property ${randomUUID().slice(0, 8)}`, currency: 'INR', timezone })
      .returning('id')
      .executeTakeFirstOrThrow();
    const students = await db
      .insertInto('students')
      .values(
        Array.from({ length: count }, (_, i) => ({
          schoolId: school.id,
          firstName: `S${i}`,
          lastName: 'Property',
          admissionNo: `P-${i + 1}`,
        })),
      )
      .returning(['id', 'admissionNo'])
      .execute();
    const studentIds = students.sort((a, b) => a.admissionNo.localeCompare(b.admissionNo)).map((s) => s.id);
    // Students 0 and 1 share a paying guardian (1 is the younger sibling); student 2
    // has a guardian of their own and is linked to the first family without paying.
    const guardians = await db
      .insertInto('guardians')
      .values(
        [1, 2].map((n) => ({
          schoolId: school.id,
          name: `Guardian ${n}`,
          phone: `+91${randomUUID().replace(/\D/g, '').slice(0, 10)}${n}`,
        })),
      )
      .returning('id')
      .execute();
    const links = [
      { student: 0, guardian: 0, isPrimaryPayer: true },
      { student: 1, guardian: 0, isPrimaryPayer: true },
      { student: 2, guardian: 1, isPrimaryPayer: true },
      { student: 2, guardian: 0, isPrimaryPayer: false },
    ].filter((link) => link.student < count);
    await db
      .insertInto('studentGuardians')
      .values(
        links.map((link) => ({
          schoolId: school.id,
          studentId: studentIds[link.student]!,
          guardianId: guardians[link.guardian]!.id,
          relation: 'parent',
          isPrimaryPayer: link.isPrimaryPayer,
        })),
      )
      .execute();
    return { schoolId: school.id, studentIds };
  }

  async function createPlan(
    schoolId: string,
    spec: ValueOf<typeof planSpec>,
    studentCount: number,
  ): Promise<ModelPlan> {
    const plan = await db
      .insertInto('feePlans')
      .values({
        schoolId,
        name: 'Property plan',
        academicYear: '2026-27',
        siblingDiscountBps: spec.siblingDiscountBps,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await db
      .insertInto('feePlanHeads')
      .values(
        spec.heads.map((amount, position) => ({
          feePlanId: plan.id,
          position,
          name: `Head ${position}`,
          amountMinor: BigInt(amount),
        })),
      )
      .execute();
    await db
      .insertInto('feePlanInstalments')
      .values(
        spec.shares.map((shareBps, position) => ({
          feePlanId: plan.id,
          position,
          label: `Instalment ${position + 1}`,
          dueDate: addDays(today, position * 30 - 60),
          shareBps,
        })),
      )
      .execute();
    const instalments = await db
      .selectFrom('feePlanInstalments')
      .select(['id', 'dueDate', 'shareBps'])
      .where('feePlanId', '=', plan.id)
      .orderBy('position')
      .execute();
    return {
      id: plan.id,
      heads: spec.heads.map((amount) => BigInt(amount)),
      instalments,
      siblingDiscountBps: spec.siblingDiscountBps,
      discounted: new Set(studentCount >= 2 ? [1] : []),
    };
  }

  async function runScenario({ students, timezone, asOfShift, plan: spec, ops }: ValueOf<typeof scenario>) {
    const { schoolId, studentIds } = await seedSchool(timezone, students);
    const plan = await createPlan(schoolId, spec, students);
    const model = new LedgerModel(students);
    const started = Date.now();
    for (const [index, operation] of ops.entries()) {
      const step = `step ${index} ${JSON.stringify(operation)}`;
      const live = model.invoices;
      switch (operation.kind) {
        case 'issue': {
          const student = operation.student % students;
          const issueDate = addDays(today, -operation.issuedDaysAgo);
          const dueDate = addDays(issueDate, operation.dueAfter);
          const lines = toLines(operation.lines);
          const input = { schoolId, studentId: studentIds[student]!, issueDate, dueDate, lines };
          if (operation.rollback) {
            await expect(
              db.transaction().execute(async (trx) => {
                await issueInvoice(trx, input);
                throw new Rollback('fails after issuing');
              }),
            ).rejects.toBeInstanceOf(Rollback);
            break;
          }
          const id = await db.transaction().execute((trx) => issueInvoice(trx, input));
          const number = model.nextNumber(issueDate);
          const row = await db
            .selectFrom('invoices')
            .select('number')
            .where('id', '=', id)
            .executeTakeFirstOrThrow();
          expect(row.number, `${step}: gap-free number`).toBe(number);
          const total = sumOf(lines.map((line) => BigInt(line.quantity) * line.unitAmountMinor));
          model.issue({ id, student, number, issueDate, dueDate, total });
          break;
        }
        case 'plan': {
          const chosen = [...new Set(operation.students.map((student) => student % students))];
          const issueDate = addDays(today, -operation.issuedDaysAgo);
          const result = await db.transaction().execute((trx) =>
            issueFeePlan(trx, {
              schoolId,
              feePlanId: plan.id,
              studentIds: chosen.map((i) => studentIds[i]!),
              issueDate,
            }),
          );
          // The ledger takes students in id order (its lock order).
          const ordered = [...chosen].sort((a, b) => (studentIds[a]! < studentIds[b]! ? -1 : 1));
          const expected = model.issuePlan(plan, ordered, issueDate, result.created);
          expect({ created: result.created.length, skipped: result.skipped }, step).toEqual({
            created: expected.issued.length,
            skipped: expected.skipped,
          });
          for (const invoice of expected.issued) {
            const lines = await db
              .selectFrom('invoiceLines')
              .select('amountMinor')
              .where('invoiceId', '=', invoice.id)
              .orderBy('position')
              .execute();
            const index = plan.instalments.findIndex((instalment) => instalment.id === invoice.instalmentId);
            expect(
              lines.map((line) => line.amountMinor),
              `${step}: lines of ${invoice.number}`,
            ).toEqual(planLines(plan, index, plan.discounted.has(invoice.student)));
          }
          break;
        }
        case 'pay': {
          if (!live.length) continue;
          const invoice = live[operation.invoice % live.length]!;
          const balance = model.balance(invoice);
          const n = BigInt(operation.amount.n);
          const amount = {
            exact: balance > 0n ? balance : n,
            below: balance > 1n ? 1n + (n % (balance - 1n)) : n,
            above: balance + n,
            any: n,
            spread:
              sumOf(
                live
                  .filter((other) => other.student === invoice.student)
                  .map((other) => model.balance(other)),
              ) +
                (n % 3n) * 1_000n || n,
          }[operation.amount.kind];
          const paidAt = started - operation.minutesAgo * 60_000 + index;
          const pay = db.transaction().execute((trx) =>
            applyPayment(trx, {
              schoolId,
              invoiceId: invoice.id,
              amountMinor: amount,
              method: 'cash',
              paidAt: new Date(paidAt),
            }),
          );
          if (invoice.voided) {
            await expectConflict(pay, step);
            break;
          }
          const result = await pay;
          const expected = model.pay(invoice.id, { id: result.paymentId, amount, paidAt });
          expect({ applied: result.appliedMinor, credited: result.creditedMinor }, step).toEqual(expected);
          break;
        }
        case 'refund': {
          if (!model.payments.length) continue;
          const payment = model.payments[operation.payment % model.payments.length]!;
          const refundable = payment.amount - payment.refunded;
          const n = BigInt(operation.amount.n);
          const { kind } = operation.amount;
          const amount =
            kind === 'zero'
              ? 0n
              : kind === 'one'
                ? 1n
                : kind === 'oneOver'
                  ? refundable + 1n
                  : refundable === 0n || kind === 'over'
                    ? refundable + n
                    : kind === 'all'
                      ? refundable
                      : kind === 'most'
                        ? refundable - (n % refundable)
                        : 1n + (n % refundable);
          const refund = db.transaction().execute((trx) =>
            refundPayment(trx, {
              schoolId,
              paymentId: payment.id,
              amountMinor: amount,
              reason: 'property test',
            }),
          );
          if (amount === 0n) {
            // Nothing to refund is no refund: the table's check refuses it and nothing moves.
            await expect(refund, step).rejects.toThrow(/check constraint/);
            break;
          }
          if (amount > refundable) {
            await expectConflict(refund, step);
            break;
          }
          const result = await refund;
          expect(result.fromCreditMinor, step).toBe(model.refund(payment.id, amount).fromCredit);
          break;
        }
        case 'void': {
          if (!live.length) continue;
          const invoice = live[operation.invoice % live.length]!;
          const work = db
            .transaction()
            .execute((trx) => voidInvoice(trx, schoolId, invoice.id, 'property test'));
          if (invoice.voided) {
            await expectConflict(work, step);
            break;
          }
          await work;
          model.voidInvoice(invoice.id);
          break;
        }
        case 'edit': {
          if (!live.length) continue;
          const invoice = live[operation.invoice % live.length]!;
          const lines = operation.lines ? toLines(operation.lines) : undefined;
          const dueDate =
            operation.dueAfter === null ? undefined : addDays(invoice.issueDate, operation.dueAfter);
          const work = db
            .transaction()
            .execute((trx) => replaceInvoiceLines(trx, schoolId, invoice.id, { lines, dueDate }));
          if (invoice.voided || (lines && !model.canReplaceLines(invoice))) {
            await expectConflict(work, step);
            break;
          }
          await work;
          model.edit(invoice.id, {
            total: lines && sumOf(lines.map((line) => BigInt(line.quantity) * line.unitAmountMinor)),
            dueDate,
          });
          break;
        }
        case 'delete': {
          if (!live.length) continue;
          const invoice = live[operation.invoice % live.length]!;
          const work = db.transaction().execute((trx) => deleteInvoice(trx, schoolId, invoice.id));
          if (!model.canDelete(invoice)) {
            await expectConflict(work, step);
            break;
          }
          await work;
          model.delete(invoice.id);
          break;
        }
      }
      await compareWithModel(db, schoolId, studentIds, model, step);
    }
    expect(await auditLedger(db, schoolId, addDays(today, asOfShift))).toEqual([]);
  }

  it('keeps every invariant, status and statement true to the rows after random sequences', async () => {
    await fc.assert(fc.asyncProperty(scenario, runScenario), { numRuns: 50 });
  }, 180_000);

  it('catches a running total that disagrees with the rows (the checker can fail)', async () => {
    const { schoolId, studentIds } = await seedSchool('Asia/Kolkata', 1);
    const invoiceId = await db.transaction().execute((trx) =>
      issueInvoice(trx, {
        schoolId,
        studentId: studentIds[0]!,
        issueDate: today,
        dueDate: addDays(today, 10),
        lines: toLines([{ quantity: 1, unit: 10_000 }]),
      }),
    );
    await db
      .transaction()
      .execute((trx) => applyPayment(trx, { schoolId, invoiceId, amountMinor: 4_000n, method: 'cash' }));
    expect(await auditLedger(db, schoolId, today)).toEqual([]);

    const corruptions: [(trx: Db) => Promise<unknown>, RegExp][] = [
      [
        (trx) =>
          trx
            .updateTable('invoices')
            .set({ paidMinor: sql`paid_minor + 1` })
            .where('id', '=', invoiceId)
            .execute(),
        /paid − refunded \(4001 − 0\) ≠ Σ allocations 4000/,
      ],
      [
        (trx) =>
          trx
            .updateTable('students')
            .set({ creditMinor: sql`credit_minor + 1` })
            .where('id', '=', studentIds[0]!)
            .execute(),
        /credit_minor 1 ≠ Σ unallocated 0/,
      ],
    ];
    for (const [corrupt, detected] of corruptions) {
      let problems: string[] = [];
      await expect(
        db.transaction().execute(async (trx) => {
          await corrupt(trx);
          problems = await auditLedger(trx, schoolId, today);
          throw new Rollback('undo the corruption');
        }),
      ).rejects.toBeInstanceOf(Rollback);
      expect(problems.join('\n')).toMatch(detected);
    }
    // The corruption was rolled back: the ledger is whole again.
    expect(await auditLedger(db, schoolId, today)).toEqual([]);
  });
});

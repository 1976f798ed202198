import type { Kysely } from 'kysely';
import type { DB } from '@bursar/db';
import type {
  SchoolStatement,
  SchoolStatementQuery,
  StudentStatement,
  StudentStatementQuery,
} from '@bursar/contracts';
import {
  isPastDay,
  reportSchoolAndVersion,
  schoolStudentBalances,
  schoolStudentBalancesAsOf,
  schoolSummary,
  schoolSummaryAsOf,
  studentStatementFrom,
  studentStatementRow,
  type LedgerStudentStatement as LedgerStatement,
  todayIn,
  toNumber,
  type SchoolSummary,
  type Totals,
} from '@bursar/ledger';
import { toRefund } from '../payments/payments.service.js';
import { JsonText, notFound } from '@bursar/platform';

function totalsJson(totals: Totals) {
  return {
    invoicedMinor: toNumber(totals.invoicedMinor),
    paidMinor: toNumber(totals.paidMinor),
    refundedMinor: toNumber(totals.refundedMinor),
    balanceMinor: toNumber(totals.balanceMinor),
    creditMinor: toNumber(totals.creditMinor),
  };
}

/** The school (404 unless the caller may see it and it is live) and its stats version, in one query. */
async function schoolOf(db: Kysely<DB>, scope: string | null, schoolId: string) {
  if (scope && scope !== schoolId) throw notFound('School');
  const { school, version } = await reportSchoolAndVersion(db, schoolId);
  return { ...school, statsVersion: version };
}

/**
 * Answers kept by key, each tagged with the school's stats version it was
 * computed at, and served only while that version is still the school's:
 * exact, never stale (the version moves with every change to the school's
 * students and money, by trigger, migration 0003). Bounded; the least
 * recently used entry goes first.
 */
class VersionedCache<T> {
  readonly #entries = new Map<string, { version: bigint; value: T }>();
  constructor(readonly size: number) {}

  get(key: string, version: bigint): T | undefined {
    const entry = this.#entries.get(key);
    if (!entry || entry.version !== version) return undefined;
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.value;
  }

  /** `version` is the one read before computing `value`: if money moved meanwhile, it is already past. */
  set(key: string, version: bigint, value: T): void {
    this.#entries.delete(key);
    if (this.#entries.size >= this.size) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(key, { version, value });
  }
}

/**
 * Past-day student statements by (student, from, to, asOf): worked out from
 * the rows (three queries), and asked for again as a bursar pages through
 * them. Kept while the school's version stands; the statement query itself
 * reads the version (and checks the caller may see the student) on every
 * request. Today's statement is that one prepared query, JSON included.
 */
const pastStatements = new VersionedCache<StudentStatement>(1_000);

export async function getStudentStatement(
  db: Kysely<DB>,
  scope: string | null,
  studentId: string,
  query: StudentStatementQuery,
): Promise<StudentStatement | JsonText> {
  // Statuses are judged on `asOf`, by default today in the school's zone (the answer names the
  // day). A past asOf is answered with the amounts as they stood at the end of it.
  const input = {
    schoolId: scope,
    studentId,
    from: query.from,
    to: query.to,
    asOf: query.asOf,
    pointInTime: true,
  };
  const row = await studentStatementRow(db, input);
  if (!row) throw notFound('Student');
  // Today's statement: the JSON PostgreSQL built, sent as it is.
  if (row.body !== null) return new JsonText(row.body);
  const key = `${studentId}|${query.from ?? ''}|${query.to ?? ''}|${query.asOf ?? ''}`;
  const statement = await studentStatementFrom(db, row, input, (version) => pastStatements.get(key, version));
  if ('kept' in statement) return statement.kept;
  const answer = toStudentStatement(statement);
  pastStatements.set(key, statement.statsVersion, answer);
  return answer;
}

function toStudentStatement(statement: LedgerStatement): StudentStatement {
  return {
    student: statement.student,
    currency: statement.school.currency,
    asOf: statement.asOf,
    totals: totalsJson(statement.totals),
    invoices: statement.invoices.map((invoice) => ({
      id: invoice.id,
      number: invoice.number,
      issueDate: invoice.issueDate,
      dueDate: invoice.dueDate,
      totalMinor: toNumber(invoice.totalMinor),
      paidMinor: toNumber(invoice.paidMinor),
      refundedMinor: toNumber(invoice.refundedMinor),
      balanceMinor: toNumber(invoice.balanceMinor),
      status: invoice.status as StudentStatement['invoices'][number]['status'],
      payments: invoice.payments.map((payment) => ({
        id: payment.id,
        invoiceId: payment.invoiceId,
        amountMinor: toNumber(payment.amountMinor),
        refundedMinor: toNumber(payment.refundedMinor),
        method: payment.method as StudentStatement['invoices'][number]['payments'][number]['method'],
        reference: payment.reference,
        paidAt: payment.paidAt.toISOString(),
        refunds: payment.refunds.map(toRefund),
      })),
    })),
  };
}

/**
 * School summaries by (school, asOf, today's amounts or the day's). The two
 * kinds are kept apart: an entry computed as today's is not the day's own
 * once the day is over (an invoice issued for a later date counts today, not
 * on that day); a past day can still change, by a back-dated payment, which
 * moves the version like any other.
 */
const summaries = new VersionedCache<SchoolSummary>(500);

async function summaryOf(
  db: Kysely<DB>,
  school: { id: string; timezone: string; statsVersion: bigint },
  asOf: string,
  past: boolean,
) {
  const key = `${school.id}|${asOf}|${past ? 'day' : 'now'}`;
  const cached = summaries.get(key, school.statsVersion);
  if (cached) return cached;
  const summary = past
    ? await schoolSummaryAsOf(db, { schoolId: school.id, asOf, timezone: school.timezone })
    : await schoolSummary(db, { schoolId: school.id, asOf });
  summaries.set(key, school.statsVersion, summary);
  return summary;
}

/** Whole school statements (one page of students) by (school, asOf, kind, page, sort). */
const schoolStatements = new VersionedCache<SchoolStatement>(500);

export async function getSchoolStatement(
  db: Kysely<DB>,
  scope: string | null,
  schoolId: string,
  query: SchoolStatementQuery,
): Promise<SchoolStatement> {
  const school = await schoolOf(db, scope, schoolId);
  const asOf = query.asOf ?? todayIn(school.timezone);
  // A past asOf: every amount as it stood at the end of that day. Otherwise the running totals.
  // Decided once, so a request across midnight does not mix the two.
  const past = isPastDay(asOf, school.timezone);
  const key = `${schoolId}|${asOf}|${past ? 'day' : 'now'}|${query.limit}|${query.offset}|${query.sort}`;
  const cached = schoolStatements.get(key, school.statsVersion);
  if (cached) return cached;
  const page = { schoolId, limit: query.limit, offset: query.offset, sort: query.sort };
  const [summary, students] = await Promise.all([
    summaryOf(db, school, asOf, past),
    past
      ? schoolStudentBalancesAsOf(db, { ...page, asOf, timezone: school.timezone })
      : schoolStudentBalances(db, page),
  ]);
  const statement: SchoolStatement = {
    schoolId,
    currency: school.currency,
    asOf,
    studentsCount: summary.studentsCount,
    totals: totalsJson(summary.totals),
    aging: {
      current: toNumber(summary.aging.current),
      days1To30: toNumber(summary.aging.days1To30),
      days31To60: toNumber(summary.aging.days31To60),
      days61To90: toNumber(summary.aging.days61To90),
      days90Plus: toNumber(summary.aging.days90Plus),
    },
    students: {
      data: students.map((row) => ({
        id: row.id,
        firstName: row.firstName,
        lastName: row.lastName,
        admissionNo: row.admissionNo,
        classId: row.classId,
        status: row.status,
        invoicedMinor: toNumber(row.invoicedMinor),
        paidMinor: toNumber(row.paidMinor),
        refundedMinor: toNumber(row.refundedMinor),
        balanceMinor: toNumber(row.balanceMinor),
        creditMinor: toNumber(row.creditMinor),
      })),
      pagination: { limit: query.limit, offset: query.offset, total: summary.studentsTotal },
    },
  };
  schoolStatements.set(key, school.statsVersion, statement);
  return statement;
}
